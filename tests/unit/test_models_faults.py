"""Provider faults, the same for the three wire formats: retries, waits, and what the user is told.

Pure tests (a scripted transport, a fake clock): they also run inside Pyodide.
The same faults over real sockets are in test_models_loopback.py.
"""

from email.utils import formatdate

import pytest
from providers import wire
from providers.fakes import FakeClock, ScriptedTransport, Streamed, json_response

from wasm_agent.errors import AgentGenerationError
from wasm_agent.messages import ChatMessage, agglomerate_stream_deltas
from wasm_agent.models import AnthropicModel, GeminiModel, OpenAIModel
from wasm_agent.models.retry import RetryPolicy
from wasm_agent.models.transport import HttpResponse, TransportError, TransportTimeout

PROVIDERS = {
    "openai": (OpenAIModel, wire.openai_json, lambda reply, model: wire.openai_events(reply, model, True),
               wire.openai_error),
    "anthropic": (AnthropicModel, wire.anthropic_json, wire.anthropic_events, wire.anthropic_error),
    "gemini": (GeminiModel, wire.gemini_json, wire.gemini_events, wire.gemini_error),
}
HELLO = [ChatMessage(role="user", content="Say hello.")]


class Provider:
    """One provider's model on a scripted transport, and its wire format to script answers with."""

    def __init__(self, name: str):
        self.name = name
        self.model_class, self._json, self._events, self._error = PROVIDERS[name]
        self.clock = FakeClock()

    def model(self, *outcomes, **kwargs):
        self.transport = ScriptedTransport(*outcomes)
        kwargs.setdefault("retry_policy", RetryPolicy(max_retries=3, initial_delay=1, jitter=0))
        return self.model_class("mock-model", api_key="key", api_base="http://mock.test",
                                transport=self.transport, clock=self.clock, **kwargs)

    def ok(self, text="Hello!", **reply):
        return json_response(self._json(wire.Reply(text=text, **reply), "mock-model"))

    def error(self, status, message="mock failure", **headers):
        return json_response(self._error(status, message), status, **headers)

    def events(self, text="Hello there, friend.", **reply) -> list[bytes]:
        return [event.encode() for event in self._events(wire.Reply(text=text, **reply), "mock-model")]

    def stream(self, text="Hello there, friend.", **reply) -> Streamed:
        return Streamed(self.events(text, **reply))


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request):
    return Provider(request.param)


async def collect(model, messages=HELLO):
    return [delta async for delta in model.generate_stream(messages)]


async def test_rate_limit_waits_as_long_as_retry_after_says(provider):
    model = provider.model(provider.error(429, **{"retry-after": "7"}), provider.ok())
    answer = await model.agenerate(HELLO)
    assert answer.content == "Hello!"
    assert provider.clock.sleeps == [7.0]


async def test_retry_after_as_an_http_date(provider):
    when = formatdate(provider.clock.now + 42, usegmt=True)
    model = provider.model(provider.error(429, **{"retry-after": when}), provider.ok())
    await model.agenerate(HELLO)
    assert provider.clock.sleeps == [42.0]


async def test_server_errors_and_network_errors_back_off_exponentially(provider):
    model = provider.model(provider.error(500), TransportError("connection reset"), provider.error(503),
                           provider.ok())
    assert (await model.agenerate(HELLO)).content == "Hello!"
    assert provider.clock.sleeps == [1, 2, 4]


async def test_after_the_last_retry_the_error_says_what_happened(provider):
    model = provider.model(*[provider.error(503, "overloaded right now")] * 4)
    with pytest.raises(AgentGenerationError) as caught:
        await model.agenerate(HELLO)
    assert len(provider.transport.requests) == 4
    assert "after 4 attempts" in caught.value.message
    assert "HTTP 503: overloaded right now" in caught.value.message
    assert "try again later" in caught.value.message


async def test_bad_key_is_not_retried_and_the_message_says_check_the_key(provider):
    model = provider.model(provider.error(401, "invalid x-api-key"))
    with pytest.raises(AgentGenerationError) as caught:
        await model.agenerate(HELLO)
    assert len(provider.transport.requests) == 1 and provider.clock.sleeps == []
    assert "HTTP 401: invalid x-api-key" in caught.value.message
    assert "Check the API key" in caught.value.message and model.api_key_env in caught.value.message


async def test_bad_key_advice_names_where_the_runtime_takes_its_key(provider):
    model = provider.model(provider.error(401, "invalid x-api-key"))
    model.key_source = "the API key in Model settings"  # as the browser agent sets it
    with pytest.raises(AgentGenerationError) as caught:
        await model.agenerate(HELLO)
    assert "Check the API key (the API key in Model settings)" in caught.value.message
    assert "environment variable" not in caught.value.message


async def test_unknown_model_names_the_model_and_the_url(provider):
    model = provider.model(provider.error(404, "model not found"))
    with pytest.raises(AgentGenerationError) as caught:
        await model.agenerate(HELLO)
    assert len(provider.transport.requests) == 1
    assert "'mock-model'" in caught.value.message and "http://mock.test" in caught.value.message


async def test_other_client_errors_are_not_retried(provider):
    model = provider.model(provider.error(400, "messages: field required"))
    with pytest.raises(AgentGenerationError, match="field required.*rejected the request"):
        await model.agenerate(HELLO)
    assert len(provider.transport.requests) == 1


async def test_a_retry_after_longer_than_we_wait_fails_at_once(provider):
    model = provider.model(provider.error(429, **{"retry-after": "86400"}))
    with pytest.raises(AgentGenerationError, match="asked to wait 86400 s"):
        await model.agenerate(HELLO)
    assert provider.clock.sleeps == []


async def test_timeouts_are_retried_then_reported_with_the_setting_to_change(provider):
    model = provider.model(*[TransportTimeout("no answer within 5 s")] * 2, max_retries=1, timeout=5)
    with pytest.raises(AgentGenerationError, match=r"raise timeout= \(now 5 s\)"):
        await model.agenerate(HELLO)
    assert len(provider.transport.requests) == 2


async def test_a_body_that_is_not_the_provider_format_is_reported_not_retried(provider):
    page = HttpResponse(200, {"content-type": "text/html"}, b"<html><body>Welcome to nginx!</body></html>")
    model = provider.model(page)
    with pytest.raises(AgentGenerationError) as caught:
        await model.agenerate(HELLO)
    assert len(provider.transport.requests) == 1
    assert "Welcome to nginx" in caught.value.message and "base URL" in caught.value.message


async def test_streamed_deltas_join_into_the_answer_with_usage(provider):
    model = provider.model(provider.stream("Hello there, friend.", usage=(11, 4)))
    deltas = await collect(model)
    assert len([d for d in deltas if d.content]) > 1
    message = agglomerate_stream_deltas(deltas)
    assert message.content == "Hello there, friend."
    assert (message.token_usage.input_tokens, message.token_usage.output_tokens) == (11, 4)
    assert provider.transport.responses[0].closed


async def test_streamed_tool_calls_arrive_whole(provider):
    call = {"id": "call_7", "name": "add", "arguments": {"a": 1, "b": 2}}
    model = provider.model(provider.stream("", tool_calls=[call]))
    message = agglomerate_stream_deltas(await collect(model))
    (tool_call,) = message.tool_calls
    assert tool_call.name == "add" and tool_call.parsed_arguments() == {"a": 1, "b": 2}


async def test_a_stream_cut_before_any_delta_is_retried(provider):
    first_event = provider.events()[0]
    cut = Streamed([first_event[: len(first_event) // 2]], error=TransportError("connection reset"))
    model = provider.model(cut, provider.stream("Hello there, friend."))
    message = agglomerate_stream_deltas(await collect(model))
    assert message.content == "Hello there, friend."  # nothing repeated
    assert len(provider.transport.requests) == 2


async def test_a_stream_cut_after_deltas_is_reported_clearly(provider):
    events = provider.events("one two three four five six")
    model = provider.model(Streamed(events[: len(events) // 2]))  # the end never comes
    received = []
    with pytest.raises(AgentGenerationError) as caught:
        async for delta in model.generate_stream(HELLO):
            received.append(delta)
    assert received and "stream broke after part of the answer had arrived" in caught.value.message
    assert len(provider.transport.requests) == 1
    assert provider.transport.responses[0].closed


async def test_a_stream_refused_with_a_status_is_retried_like_a_request(provider):
    model = provider.model(provider.error(429, **{"retry-after": "3"}), provider.stream("ok then"))
    message = agglomerate_stream_deltas(await collect(model))
    assert message.content == "ok then" and provider.clock.sleeps == [3.0]


async def test_an_html_page_instead_of_a_stream_is_reported(provider):
    model = provider.model(Streamed([b"<!doctype html><title>Login</title>"], headers={"content-type": "text/html"}))
    with pytest.raises(AgentGenerationError, match="not an event stream.*doctype html"):
        await collect(model)
    assert len(provider.transport.requests) == 1


async def test_leaving_a_stream_early_closes_the_response(provider):
    model = provider.model(provider.stream("one two three four five"))
    stream = model.generate_stream(HELLO)
    async for _ in stream:
        break
    assert not provider.transport.responses[0].closed
    await stream.aclose()
    assert provider.transport.responses[0].closed


async def test_requests_per_minute_limit_applies_across_calls(provider):
    model = provider.model(provider.ok(), provider.ok(), provider.ok(), requests_per_minute=2)
    for _ in range(3):
        await model.agenerate(HELLO)
    assert provider.clock.sleeps == [60.0]
