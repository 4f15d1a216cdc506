"""The model interface: our messages in, one assistant `ChatMessage` out."""

from __future__ import annotations

import functools
import inspect
import types
from typing import Any, AsyncIterator, Iterator, Sequence

from .. import platform
from ..messages import ChatMessage, ChatMessageStreamDelta, ToolCallDelta


class Model:
    """Base class of every model.

    A subclass implements either `generate` synchronously, the smolagents way,
    or `agenerate` as a coroutine (what Pyodide needs, where HTTP is async);
    the agent detects which. Both take `(messages, stop_sequences=None,
    response_format=None, tools_to_call_from=None, **kwargs)` and return an
    assistant `ChatMessage`. `model(messages)` and `model.generate(...)` are
    synchronous where the platform can block; `await model.agenerate(...)`
    works everywhere. To stream, a subclass implements `async def agenerate_stream`
    (an async generator of deltas) or `generate_stream` (a generator, sync or async,
    the smolagents way); otherwise the whole answer streams as one delta.
    `model.generate_stream(...)` is iterated with `for` (where the platform can
    block) or `async for`; `model.agenerate_stream(...)` with `async for` everywhere.

    >>> class Echo(Model):
    ...     def generate(self, messages, stop_sequences=None, tools_to_call_from=None, **kwargs):
    ...         return ChatMessage(role="assistant", content=messages[-1].content)
    >>> Echo()([ChatMessage(role="user", content="hi")]).content
    'hi'
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

    def generate(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                 response_format: Any = None, tools_to_call_from: Sequence[Any] | None = None,
                 **kwargs: Any) -> ChatMessage:
        """The model's answer, synchronously (wraps `agenerate` for async models)."""
        if type(self).agenerate is Model.agenerate:
            raise NotImplementedError(f"{type(self).__name__} must implement `generate` or `async def agenerate`")
        if not platform.can_block():
            raise RuntimeError(f"{type(self).__name__}.generate() cannot block here (an event loop is running, or "
                               "Pyodide has no JSPI): use `await model.agenerate(...)`")
        return platform.block_on(self.agenerate(messages, stop_sequences=stop_sequences, response_format=response_format,
                                                tools_to_call_from=tools_to_call_from, **kwargs))

    async def agenerate(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                        response_format: Any = None, tools_to_call_from: Sequence[Any] | None = None,
                        **kwargs: Any) -> ChatMessage:
        """The model's answer, as a coroutine (runs a synchronous `generate` in place)."""
        return await call_generate(self, messages, stop_sequences=stop_sequences, tools_to_call_from=tools_to_call_from,
                                   **kwargs)

    def generate_stream(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                        tools_to_call_from: Sequence[Any] | None = None, **kwargs: Any) -> DeltaStream:
        """The answer as deltas: `for delta in model.generate_stream(messages)`, or `async for`."""
        return DeltaStream(self.agenerate_stream(messages, stop_sequences=stop_sequences,
                                                 tools_to_call_from=tools_to_call_from, **kwargs))

    async def agenerate_stream(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                               tools_to_call_from: Sequence[Any] | None = None,
                               **kwargs: Any) -> AsyncIterator[ChatMessageStreamDelta]:
        """The answer as deltas, an async generator (a subclass's own `generate_stream`, or one delta)."""
        if type(self).generate_stream is not Model.generate_stream:
            async for delta in _deltas_of(self.generate_stream, messages, stop_sequences=stop_sequences,
                                          tools_to_call_from=tools_to_call_from, **kwargs):
                yield delta
            return
        message = await call_generate(self, messages, stop_sequences=stop_sequences,
                                      tools_to_call_from=tools_to_call_from, **kwargs)
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
        """True when the subclass streams for real (has its own `agenerate_stream` or `generate_stream`)."""
        return (type(self).generate_stream is not Model.generate_stream
                or type(self).agenerate_stream is not Model.agenerate_stream)

    def __call__(self, messages: Sequence[ChatMessage], *args: Any, **kwargs: Any) -> ChatMessage:
        return self.generate(messages, *args, **kwargs)

    def to_dict(self) -> dict:
        return {"class": type(self).__name__, "model_id": self.model_id}

    @classmethod
    def from_dict(cls, data: dict) -> "Model":
        return cls(**{k: v for k, v in data.items() if k != "class"})


class DeltaStream:
    """What `Model.generate_stream` returns: deltas for `for` (smolagents' way, where the platform can block)
    or `async for`; `aclose()` ends it early and frees the connection."""

    def __init__(self, deltas: AsyncIterator[ChatMessageStreamDelta]):
        self._deltas = deltas

    def __aiter__(self) -> DeltaStream:
        return self

    async def __anext__(self) -> ChatMessageStreamDelta:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        await self._deltas.aclose()

    def __iter__(self) -> Iterator[ChatMessageStreamDelta]:
        if not platform.can_block():
            raise RuntimeError("a model stream cannot be iterated synchronously here (an event loop is running, "
                               "or Pyodide has no JSPI): use `async for delta in model.generate_stream(...)`")
        return platform.iterate_sync(self._deltas)


def stream_deltas(model: Any, messages: Sequence[ChatMessage], **kwargs: Any) -> AsyncIterator[ChatMessageStreamDelta]:
    """Deltas from any model: a `Model`'s `agenerate_stream`, else its `generate_stream` (sync or async)."""
    if isinstance(model, Model):
        return model.agenerate_stream(messages, **kwargs)
    return _deltas_of(model.generate_stream, messages, **kwargs)


async def _deltas_of(generate_stream: Any, messages: Sequence[ChatMessage],
                     **kwargs: Any) -> AsyncIterator[ChatMessageStreamDelta]:
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k not in _OPTIONAL}
    stream = generate_stream(list(messages), **_accepted(generate_stream, kwargs))
    if hasattr(stream, "__aiter__"):
        async for delta in stream:
            yield delta
    else:  # a synchronous generator, as smolagents' models have
        for delta in stream:
            yield delta


async def call_generate(model: Any, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    """Ask any model for an answer: `agenerate` when it has its own, else its `generate`
    (sync or async), given only the arguments its signature takes."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k not in _OPTIONAL}
    if isinstance(model, Model) and type(model).agenerate is not Model.agenerate:
        result = model.agenerate(list(messages), **kwargs)
    else:
        generate = getattr(model, "generate", None)
        if generate is None or (isinstance(model, Model) and type(model).generate is Model.generate):
            raise NotImplementedError(f"{type(model).__name__} must implement `generate` or `async def agenerate`")
        result = generate(list(messages), **_accepted(generate, kwargs))
    if type(result) is types.CoroutineType or inspect.isawaitable(result):  # (`agenerate`'s, checked first)
        result = await result
    if isinstance(result, str):
        result = ChatMessage(role="assistant", content=result)
    if not isinstance(result, ChatMessage):
        raise TypeError(f"{type(model).__name__}.generate returned {type(result).__name__}, expected ChatMessage")
    return result


_OPTIONAL = ("stop_sequences", "response_format", "tools_to_call_from")


def _accepted(function: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments `function` takes (an older `tools=` parameter gets the tools)."""
    parameters = _parameters(function)
    if parameters is None:
        return kwargs
    names, var_keyword = parameters
    if "tools_to_call_from" in kwargs and "tools_to_call_from" not in names and "tools" in names:
        kwargs = {**kwargs, "tools": kwargs["tools_to_call_from"]}
        del kwargs["tools_to_call_from"]
    return kwargs if var_keyword else {k: v for k, v in kwargs.items() if k in names}


@functools.lru_cache(maxsize=256)
def _signature_of(function: Any) -> tuple[frozenset, bool] | None:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    return (frozenset(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)),
            any(p.kind is p.VAR_KEYWORD for p in parameters))


def _parameters(bound: Any) -> tuple[frozenset, bool] | None:
    return _signature_of(getattr(bound, "__func__", bound))


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
