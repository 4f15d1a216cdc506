"""The in-browser model: a GGUF run by wllama in the user's browser, no key, no network.

The model itself lives on the JS side (`web/browser-model.js`); Python holds a
small handle to it, made by `BrowserModel.handle()` in JS and handed over by
the agent worker. Strings cross the boundary (JSON), so no proxy outlives a call:

    handle.info()            -> JSON: {name, threads, promptVariant, ...}
    handle.stream(json)      -> {next(): Promise<JSON event | undefined>, cancel()}

A request is `{messages, stop, maxTokens, temperature, seed}`; events are
`{"type": "delta", "text"}` and a last `{"type": "done", "usage", "timings", ...}`.
The JS side keeps one KV cache slot, so when a step's messages extend the
previous step's, only the new tokens are processed.

    >>> model = BrowserModel(handle)                    # doctest: +SKIP
    >>> agent = CodeAgent(tools=[], model=model)        # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..messages import ChatMessage, ChatMessageStreamDelta, MessageRole, TokenUsage, content_text
from .base import Model

_ROLES = {"system": "system", "user": "user", "assistant": "assistant", "tool": "user", "tool-call": "assistant",
          "tool-response": "user"}


class BrowserModel(Model):
    """A `Model` over the in-browser model of `web/browser-model.js`.

    `handle` is the JS object of `BrowserModel.handle()`; without one, the
    handle the agent worker published as `globalThis.wasmAgentBrowserModel`.
    Decoding is greedy at `temperature=0` (the default): same messages, same
    text. `prompt_variant` comes from the JS side ("small" for the default
    135M model: compact prompts with few-shot turns) unless given.
    """

    supports_grammar = True  # `grammar=` (GBNF) in generate: llama.cpp constrains the output to it

    def __init__(self, handle: Any = None, *, model_id: str | None = None, temperature: float = 0.0,
                 max_tokens: int | None = None, seed: int = 0, prompt_variant: Any = ...,
                 retry_temperature: float = 0.7, **kwargs: Any):
        self.handle = handle if handle is not None else _published_handle()
        self.info = json.loads(self.handle.info())
        super().__init__(model_id or self.info.get("name") or "browser", **kwargs)
        self.prompt_variant = self.info.get("promptVariant") if prompt_variant is ... else prompt_variant
        # A small model's step is a short thought and a few lines of code: a low budget ends a runaway early.
        max_tokens = max_tokens or (200 if self.prompt_variant == "small" else 512)
        self.temperature, self.max_tokens, self.seed = temperature, max_tokens, seed
        # After a failed step, greedy decoding would write the same failing code again: sample instead.
        self.retry_temperature = retry_temperature
        self.max_context_tokens = int(self.info.get("nCtx") or 4096)  # the KV cache's size, set when loading
        self.last_timings: dict | None = None  # llama.cpp's figures of the last call (cache_n, prompt_n, ...)

    async def agenerate(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                        response_format: Any = None, tools_to_call_from: Sequence[Any] | None = None,
                        **kwargs: Any) -> ChatMessage:
        text, usage = [], None
        async for delta in self.generate_stream(messages, stop_sequences=stop_sequences,
                                                tools_to_call_from=tools_to_call_from, **kwargs):
            text.append(delta.content or "")
            usage = delta.token_usage or usage
        return ChatMessage(MessageRole.ASSISTANT, "".join(text), token_usage=usage, raw=self.last_timings)

    async def generate_stream(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                              tools_to_call_from: Sequence[Any] | None = None, **kwargs: Any) -> AsyncIterator[ChatMessageStreamDelta]:
        request = self.request(messages, stop_sequences, **kwargs)
        stream = self.handle.stream(json.dumps(request))
        finished = False
        try:
            while True:
                event = await stream.next()
                if not isinstance(event, str):  # None (JS undefined) ends the stream
                    finished = True
                    return
                event = json.loads(event)
                if event["type"] == "delta":
                    yield ChatMessageStreamDelta(content=event["text"])
                elif event["type"] == "done":
                    self.last_timings = event.get("timings")
                    usage = event.get("usage") or {}
                    yield ChatMessageStreamDelta(token_usage=TokenUsage(int(usage.get("inputTokens", 0)),
                                                                        int(usage.get("outputTokens", 0))))
        finally:
            if not finished:  # interrupted or abandoned: stop decoding on the JS side
                stream.cancel()

    def request(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                **kwargs: Any) -> dict:
        """The JSON request the JS side gets (tool messages become user turns: chat templates of small
        models know three roles)."""
        turns = [_turn(message) for message in messages]
        temperature, seed = float(kwargs.get("temperature", self.temperature)), int(kwargs.get("seed", self.seed))
        retries = _failed_attempts(turns)
        if retries and temperature == 0 and self.retry_temperature and "temperature" not in kwargs:
            temperature, seed = self.retry_temperature, seed + retries  # a new, reproducible attempt
        return {
            "messages": turns,
            "stop": [stop for stop in stop_sequences or () if stop],
            "maxTokens": int(kwargs.get("max_tokens", self.max_tokens)),
            "temperature": temperature,
            "seed": seed,
            # llama.cpp's GBNF: the output can only take this shape (the agent's format, e.g. one code block)
            "options": {"grammar": kwargs["grammar"]} if kwargs.get("grammar") else {},
        }

    def to_dict(self) -> dict:
        return {**super().to_dict(), "temperature": self.temperature, "max_tokens": self.max_tokens,
                "retry_temperature": self.retry_temperature}


def _turn(message: ChatMessage | dict) -> dict:
    if isinstance(message, dict):  # ChatMessage normalises the role
        message = ChatMessage(message["role"], message.get("content"))
    return {"role": _ROLES.get(message.role.value, "user"), "content": content_text(message.content)}


def _failed_attempts(turns: list[dict]) -> int:
    """How many steps in a row failed just before this call: the agent's error observations
    ("Error:" turns) at the end of the conversation, each after the model's failed answer."""
    count = 0
    for turn in reversed(turns):
        if turn["role"] == "assistant":
            continue
        if turn["role"] != "user" or not turn["content"].startswith("Error:"):
            break
        count += 1
    return count


def _published_handle() -> Any:
    try:
        import js  # only in Pyodide
    except ImportError:
        raise RuntimeError("BrowserModel runs in a browser (Pyodide); pass the handle of "
                           "web/browser-model.js: BrowserModel(handle)") from None
    handle = getattr(js.globalThis, "wasmAgentBrowserModel", None)
    if handle is None:
        raise RuntimeError("No in-browser model is loaded: in the agent worker, call publishBrowserModel() "
                           "of web/browser-model.js before building the agent (see docs/browser-model.md)")
    return handle
