"""What every HTTP provider model shares: sending, retrying, streaming, explaining failures.

A provider class (`OpenAIModel`, `AnthropicModel`, `GeminiModel`) only
translates: our messages into its request JSON (`payload`), its answer into
a `ChatMessage` (`parse`), its stream events into deltas (`stream_decoder`).
This base sends the request through the injected transport, retries with
`Retrier`, and turns the last failure into an `AgentGenerationError` that
says what to do next.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import replace
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol, Sequence, TypeVar

from ..errors import AgentGenerationError
from ..messages import ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, MessageRole, get_clean_message_list
from ..platform import IN_PYODIDE
from .base import Model
from .retry import ProviderFailure, Retrier, RetryPolicy, parse_retry_after
from .sse import ServerSentEvent, iter_events
from .transport import HttpRequest, StreamingResponse, Transport, TransportError, TransportTimeout, default_transport

logger = logging.getLogger(__name__)
T = TypeVar("T")
_SSE_START = re.compile(rb"\s*(data|event|id|retry)?:")  # how an event stream begins


class StreamDecoder(Protocol):
    """Turns one provider's stream events into deltas.

    `done`: the end marker arrived, stop reading. `complete`: the answer is
    whole, so the stream may end here (a provider without an end marker).
    """

    done: bool
    complete: bool

    def feed(self, event: ServerSentEvent) -> list[ChatMessageStreamDelta]: ...

    def finish(self) -> list[ChatMessageStreamDelta]: ...


class ProviderModel(Model):
    """Base of the HTTP provider models. Subclasses set the class attributes and the hooks.

    Arguments every provider takes: `api_base`, `api_key` (else the
    `api_key_env` environment variable, on CPython), `transport` (else the
    platform's), `timeout` (seconds without any byte from the provider),
    `max_retries`, `retry_policy`, `requests_per_minute`, `clock` (for
    tests), `extra_headers`/`headers`; and smolagents' `client_kwargs`
    (`base_url`, `timeout`, `max_retries`, `default_headers`) and
    `custom_role_conversions`. Every other keyword (`temperature`,
    `max_tokens`, ...) goes into the request; keywords given to `generate`
    override them for one call (`timeout` and `extra_headers` too).
    """

    provider = "provider"
    default_api_base = ""
    api_key_env: str | None = None
    # Where a user sets the key, for the advice after a 401 (the browser and Deno runners say theirs).
    key_source: str | None = None
    browser_hint = ""  # what a browser page needs for this provider to accept its requests

    def __init__(self, model_id: str, *, api_base: str | None = None, api_key: str | None = None,
                 transport: Transport | None = None, timeout: float = 120.0, max_retries: int | None = None,
                 retry_policy: RetryPolicy | None = None, requests_per_minute: float | None = None,
                 clock: Any = None, extra_headers: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, client_kwargs: dict[str, Any] | None = None,
                 custom_role_conversions: dict[str, str] | None = None, flatten_messages_as_text: Any = None,
                 max_context_tokens: int | None = None, **options: Any):
        # smolagents' client_kwargs were given to the OpenAI SDK: take the ones that mean something here.
        client = dict(client_kwargs or {})
        api_base = api_base or client.pop("base_url", None)
        timeout = client.pop("timeout", timeout)
        max_retries = client.pop("max_retries", max_retries)
        headers = {**client.pop("default_headers", {}), **(headers or {})}
        if client:
            raise TypeError(f"client_kwargs {sorted(client)} have no meaning here; "
                            "supported: base_url, timeout, max_retries, default_headers")
        super().__init__(model_id)
        self.api_base = (api_base or self.default_api_base).rstrip("/")
        if api_key is None and self.api_key_env:
            api_key = os.environ.get(self.api_key_env)
        self.api_key = api_key
        self.transport = transport or default_transport()
        self.timeout = timeout
        policy = retry_policy or RetryPolicy()
        if max_retries is not None:
            policy = replace(policy, max_retries=max_retries)
        if requests_per_minute is not None:
            policy = replace(policy, requests_per_minute=requests_per_minute)
        self.retrier = Retrier(policy, clock)
        self.extra_headers = {**headers, **(extra_headers or {})}
        self.role_conversions = {MessageRole(k): MessageRole(v) for k, v in (custom_role_conversions or {}).items()}
        self.max_context_tokens = max_context_tokens  # the model's context window, for the agent's budget
        self.options = options
        # Image parts go to the provider as images; text parts are joined into one string either way.
        self.flatten_messages_as_text = bool(flatten_messages_as_text)

    # -- hooks ------------------------------------------------------------------------------------
    def url(self, stream: bool) -> str:
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def payload(self, messages: list[ChatMessage], *, stop_sequences: Sequence[str] | None,
                tools: Sequence[Any] | None, stream: bool, options: dict[str, Any]) -> dict:
        raise NotImplementedError

    def parse(self, data: dict) -> ChatMessage:
        raise NotImplementedError

    def stream_decoder(self) -> StreamDecoder:
        raise NotImplementedError

    # -- Model --------------------------------------------------------------------------------------
    async def agenerate(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                        response_format: Any = None, tools_to_call_from: Sequence[Any] | None = None,
                        **kwargs: Any) -> ChatMessage:
        if response_format is not None:  # OpenAI's field; what other providers call it is theirs to map
            kwargs["response_format"] = response_format
        request = self._request(messages, stop_sequences, tools_to_call_from, kwargs, stream=False)

        async def attempt() -> ChatMessage:
            await self.retrier.before_request()
            response = await self._send(self.transport.request(request))
            _check_status(response.status, response.headers, response.body, self.retrier.clock.time())
            try:
                data = json.loads(response.body)
                message = self.parse(data)
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                raise ProviderFailure("unreadable", f"the answer is not a {self.provider} response "
                                      f"({type(exc).__name__}: {exc}); it starts with "
                                      f"{_preview(response.body)!r}") from None
            message.raw = data
            return message

        return await self._with_retries(attempt)

    async def agenerate_stream(self, messages: Sequence[ChatMessage], stop_sequences: Sequence[str] | None = None,
                               tools_to_call_from: Sequence[Any] | None = None,
                               **kwargs: Any) -> AsyncIterator[ChatMessageStreamDelta]:
        request = self._request(messages, stop_sequences, tools_to_call_from, kwargs, stream=True)

        async def attempt():
            # Retrying is safe until the first delta is out: so read up to it inside the attempt.
            await self.retrier.before_request()
            response = await self._send(self.transport.stream(request))
            if response.status >= 300:
                body = await _read_quietly(response)
                _check_status(response.status, response.headers, body, self.retrier.clock.time())
            deltas = self._deltas(response, self.stream_decoder())
            try:
                first = await deltas.__anext__()
            except StopAsyncIteration:
                first = None
            except BaseException:
                await deltas.aclose()
                await response.aclose()
                raise
            return response, deltas, first

        response, deltas, first = await self._with_retries(attempt)
        received = 0
        try:
            if first is None:
                return
            received += len(first.content or "")
            yield first
            async for delta in deltas:
                received += len(delta.content or "")
                yield delta
        except ProviderFailure as failure:
            raise AgentGenerationError(
                f"{self.provider} stream broke after part of the answer had arrived ({received} characters of text): "
                f"{failure.detail}. It was not retried, since the part already delivered would repeat; "
                f"run the step again, or call generate() (not streaming) on flaky connections.") from None
        finally:
            await deltas.aclose()
            await response.aclose()

    def to_dict(self) -> dict:
        return {**super().to_dict(), "api_base": self.api_base, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, data: dict) -> "ProviderModel":
        """The model `to_dict()` described (its API key comes from the environment again, never the data)."""
        return cls(data.get("model_id"), api_base=data.get("api_base"), **(data.get("options") or {}))

    # -- machinery ----------------------------------------------------------------------------------
    def _request(self, messages, stop_sequences, tools, kwargs, *, stream: bool) -> HttpRequest:
        kwargs = dict(kwargs)
        timeout = kwargs.pop("timeout", None) or self.timeout  # per call; not part of the request body
        call_headers = kwargs.pop("extra_headers", None) or {}
        options = {**self.options, **kwargs}
        messages = get_clean_message_list(messages, self.role_conversions,  # dicts and parts too
                                          flatten_messages_as_text=self.flatten_messages_as_text)
        payload = self.payload(messages, stop_sequences=stop_sequences, tools=tools, stream=stream, options=options)
        self._check_header_values(self.auth_headers(), key=True)
        self._check_header_values({**self.extra_headers, **call_headers}, key=False)
        headers = {**self.auth_headers(), **self.extra_headers, **call_headers}
        if stream:
            headers.setdefault("accept", "text/event-stream")
        return HttpRequest.post_json(self.url(stream), headers, payload, timeout)

    def _check_header_values(self, headers: dict[str, str], *, key: bool) -> None:
        """HTTP headers carry Latin-1 only: a key pasted with a placeholder ('sk-…') can never be sent,
        so say so at once, here, rather than let fetch fail as if the network were down (and retry)."""
        for name, value in headers.items():
            bad = next((c for c in str(value) if ord(c) > 255 or ord(c) < 32), None)
            if bad is None:
                continue
            where = str(value).index(bad)
            if key:
                where = str(self.api_key or "").find(bad) if bad in str(self.api_key or "") else where
                source = self.key_source or "api_key=..."
                raise AgentGenerationError(
                    f"The API key ({source}) holds the character {bad!r} (U+{ord(bad):04X}) at position {where + 1}, "
                    "which no HTTP request can carry: it is not a real key (a placeholder such as 'sk-…' "
                    "pasted from an example?). Paste the whole key from your provider's console.")
            raise AgentGenerationError(f"The header {name!r} holds the character {bad!r} (U+{ord(bad):04X}) at "
                                       f"position {where + 1}, which no HTTP request can carry.")

    async def _send(self, sending: Awaitable[T]) -> T:
        try:
            return await sending
        except TransportTimeout as exc:
            raise ProviderFailure("timeout", str(exc)) from None
        except TransportError as exc:
            raise ProviderFailure("network", str(exc)) from None

    async def _deltas(self, response: StreamingResponse, decoder: StreamDecoder):
        head = bytearray()  # the body's first bytes, to show when it is not an event stream at all
        events = 0

        async def chunks():
            async for chunk in response.chunks():
                head.extend(chunk[:max(0, 200 - len(head))])
                yield chunk

        try:
            async for event in iter_events(chunks()):
                events += 1
                try:
                    deltas = decoder.feed(event)
                except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
                    raise ProviderFailure("unreadable", f"unexpected {self.provider} stream event "
                                          f"({type(exc).__name__}: {exc}): {_preview(event.data.encode())!r}"
                                          ) from None
                for delta in deltas:
                    yield delta
                if decoder.done:
                    break
        except TransportTimeout as exc:
            raise ProviderFailure("timeout", str(exc)) from None
        except TransportError as exc:
            raise ProviderFailure("network", str(exc)) from None
        if not (decoder.done or decoder.complete):
            if not events and head.strip() and not _SSE_START.match(bytes(head)):
                raise ProviderFailure("unreadable", f"the answer is not an event stream; it starts with "
                                      f"{_preview(bytes(head))!r}")
            raise ProviderFailure("cut", "the stream ended before the provider's end-of-answer marker")
        for delta in decoder.finish():
            yield delta

    async def _with_retries(self, attempt: Callable[[], Awaitable[T]]) -> T:
        retry = 0
        while True:
            try:
                return await attempt()
            except ProviderFailure as failure:
                delay = self.retrier.delay_before_retry(failure, retry)
                if delay is None:
                    raise AgentGenerationError(self.explain(failure, retry + 1)) from None
                logger.warning("%s: %s; retry %d in %.1f s", self.provider, failure.detail, retry + 1, delay)
                await self.retrier.clock.sleep(delay)
                retry += 1

    def explain(self, failure: ProviderFailure, attempts: int) -> str:
        """The message of the final error: what happened, then what to do."""
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        what = f"{self.provider} request for model {self.model_id!r} failed{tries}: {failure.detail}."
        status = failure.status or 0
        if status in (401, 403) or (status == 400 and "api key" in failure.detail.lower()):
            source = self.key_source or (f"api_key=... or the {self.api_key_env} environment variable"
                                         if self.api_key_env else "api_key=...")
            todo = f"Check the API key ({source}) and that it may use this model."
            if not self.api_key:
                todo = f"No API key was given: pass {source}."
        elif status == 404:
            todo = (f"Check the model id {self.model_id!r} and the base URL {self.api_base!r} "
                    f"(the request went to {self.url(False)}).")
        elif status == 429:
            todo = ("The provider is rate-limiting or out of quota: wait, set requests_per_minute=..., "
                    "or raise max_retries.")
            if failure.retry_after is not None and failure.retry_after > self.retrier.policy.max_retry_after:
                todo += f" It asked to wait {failure.retry_after:.0f} s, longer than max_retry_after."
        elif 300 <= status < 400:
            todo = "Set api_base to the address it redirects to."
        elif status >= 500:
            todo = "The provider is failing on its side; try again later."
        elif status:
            todo = "The provider rejected the request; its message above says which part."
        elif failure.kind == "timeout":
            todo = (f"The server at {self.api_base} is slow or down; raise timeout= (now {self.timeout:g} s) "
                    "or check the server.")
        elif failure.kind == "network":
            todo = f"Check the network and the base URL {self.api_base!r}."
            if IN_PYODIDE and self.browser_hint:
                todo += f" In a browser: {self.browser_hint}"
        elif failure.kind == "unreadable":
            todo = (f"Check that the base URL {self.api_base!r} is the API root of a {self.provider}-compatible "
                    f"server (like {self.default_api_base!r}).")
        elif failure.kind == "refused":
            todo = "The provider refused this prompt; change the task or the provider's safety settings."
        else:
            todo = "The answer broke off; try again."
        return f"{what} {todo}"


def _check_status(status: int, headers: dict[str, str], body: bytes, now: float) -> None:
    if 200 <= status < 300:
        return
    detail = f"redirected to {headers.get('location')}" if 300 <= status < 400 else error_text(body)
    raise ProviderFailure("status", f"HTTP {status}: {detail}", status=status,
                          retry_after=parse_retry_after(headers, now))


async def _read_quietly(response: StreamingResponse) -> bytes:
    try:
        return await response.read()
    except TransportError:
        return b""
    finally:
        await response.aclose()


def error_text(body: bytes) -> str:
    """The provider's own error message (all three say `{"error": {"message": ...}}`), else the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return _preview(body) or "(empty body)"
    if isinstance(data, list) and data:  # Gemini's streaming endpoint wraps errors in a list
        data = data[0]
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return _preview(body)


def _preview(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else text[:limit] + "…"


# -- translation helpers shared by the providers -------------------------------------------------
class CallMemory:
    """What a provider gave along with a tool call and wants back with it, by call id.

    Our messages carry no provider-specific fields, so the model object keeps
    them (Gemini's thought signatures, Anthropic's thinking blocks) for the
    calls it produced; the oldest are forgotten past `limit`.
    """

    def __init__(self, limit: int = 1000):
        self.limit = limit
        self._by_call: dict[str, Any] = {}

    def keep(self, call_id: str, value: Any) -> None:
        if value:
            self._by_call[call_id] = value
            if len(self._by_call) > self.limit:
                self._by_call.pop(next(iter(self._by_call)))

    def get(self, call_id: str) -> Any:
        return self._by_call.get(call_id)



def tool_functions(tools: Sequence[Any] | None) -> list[dict]:
    """`{name, description, parameters}` of each tool (a `Tool`, or a schema dict)."""
    functions = []
    for tool in tools or ():
        schema = tool if isinstance(tool, dict) else tool.to_json_schema()
        functions.append(schema.get("function", schema))
    return functions


def is_tool_result(message: ChatMessage) -> bool:
    """A tool message answering a native call. Without an id (CodeAgent observations) it goes as user text."""
    return message.role == MessageRole.TOOL and message.tool_call_id is not None


def arguments_object(call: ChatMessageToolCall) -> Any:
    arguments = call.parsed_arguments()
    return arguments if isinstance(arguments, dict) else {"input": arguments}


def arguments_json(call: ChatMessageToolCall) -> str:
    if isinstance(call.arguments, str):
        return call.arguments.strip() or "{}"  # a call without arguments still sends a JSON object
    return json.dumps(call.arguments)


def system_text(messages: Sequence[ChatMessage]) -> str:
    return "\n\n".join(m.content or "" for m in messages if m.role == MessageRole.SYSTEM)


def parse_event_json(event: ServerSentEvent, provider: str) -> Any:
    try:
        return json.loads(event.data)
    except ValueError:
        raise ProviderFailure("unreadable", f"a {provider} stream event is not JSON: "
                              f"{_preview(event.data.encode())!r}", retryable=False) from None
