"""The model interface: our messages in, one assistant `ChatMessage` out."""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Sequence

from ..messages import ChatMessage, ChatMessageStreamDelta, ToolCallDelta


class Model:
    """Base class of every model.

    A subclass implements `generate`; it may also implement `generate_stream`
    to yield deltas as they arrive. A subclass that only implements
    `generate` still streams: the base yields its whole answer as one delta.
    smolagents-style subclasses whose `generate` is synchronous work too.

    >>> class Echo(Model):
    ...     async def generate(self, messages, *, stop_sequences=None, tools=None, **kw):
    ...         return ChatMessage(role="assistant", content=messages[-1].content)
    """

    model_id: str | None = None
    # Which prompt variant suits this model: None (the full prompts) or e.g. "small",
    # which selects `<agent>_small.toml` (compact, with few-shot turns) for tiny models.
    prompt_variant: str | None = None
    # The context window in tokens, when known: the agent caps observations and fits its messages to it.
    max_context_tokens: int | None = None

    def __init__(self, model_id: str | None = None, **kwargs: Any):
        if model_id is not None:
            self.model_id = model_id
        self.kwargs = kwargs

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        stop_sequences: Sequence[str] | None = None,
        tools: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        raise NotImplementedError(f"{type(self).__name__} must implement `async def generate(...)`")

    async def generate_stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        stop_sequences: Sequence[str] | None = None,
        tools: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatMessageStreamDelta]:
        message = await call_generate(self, messages, stop_sequences=stop_sequences, tools=tools, **kwargs)
        yield ChatMessageStreamDelta(
            content=message.content,
            tool_calls=[
                ToolCallDelta(index=i, id=call.id, name=call.name,
                              arguments=call.arguments if isinstance(call.arguments, str) else _json(call.arguments))
                for i, call in enumerate(message.tool_calls or ())
            ] or None,
            token_usage=message.token_usage,
        )

    @property
    def supports_streaming(self) -> bool:
        """True when the subclass streams for real (overrides `generate_stream`)."""
        return type(self).generate_stream is not Model.generate_stream

    async def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        return await call_generate(self, messages, **kwargs)

    def to_dict(self) -> dict:
        return {"class": type(self).__name__, "model_id": self.model_id}


async def call_generate(model: Any, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    """Call `model.generate`, awaiting it when it is async, and coerce the result."""
    result = model.generate(list(messages), **kwargs)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, str):
        result = ChatMessage(role="assistant", content=result)
    if not isinstance(result, ChatMessage):
        raise TypeError(f"{type(model).__name__}.generate returned {type(result).__name__}, expected ChatMessage")
    return result


def truncate_at_stop(text: str, stop_sequences: Sequence[str] | None) -> str:
    """Cut `text` before the first stop sequence, as provider APIs do."""
    cut = len(text)
    for stop in stop_sequences or ():
        if stop:
            position = text.find(stop)
            if position != -1:
                cut = min(cut, position)
    return text[:cut]


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
