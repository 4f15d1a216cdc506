"""The three provider models against the loopback mock server: real HTTP, real SSE, real faults.

Nothing here leaves 127.0.0.1. Sockets and threads: CPython only (the
Pyodide run covers the same logic through test_models_faults.py).
"""

import json
import time

import pytest
from providers import wire
from providers.fakes import FakeClock
from sample_tools import add

from wasm_agent import CodeAgent, ToolCallingAgent
from wasm_agent.errors import AgentGenerationError
from wasm_agent.messages import ChatMessage, agglomerate_stream_deltas
from wasm_agent.models import AnthropicModel, GeminiModel, OpenAIModel
from wasm_agent.models.retry import RetryPolicy

pytestmark = pytest.mark.cpython_only

KEY = "test-key"
HELLO = [ChatMessage(role="system", content="Be kind."), ChatMessage(role="user", content="Say hello.")]
BASES = {OpenAIModel: "openai_base", AnthropicModel: "anthropic_base", GeminiModel: "gemini_base"}


@pytest.fixture(scope="module")
def server():
    from providers.mock import MockProviderServer  # imported here: the Pyodide run never needs it

    with MockProviderServer(api_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


@pytest.fixture(params=[OpenAIModel, AnthropicModel, GeminiModel], ids=["openai", "anthropic", "gemini"])
def make(request, server):
    def make(api_key=KEY, **kwargs):
        kwargs.setdefault("clock", FakeClock())
        kwargs.setdefault("retry_policy", RetryPolicy(max_retries=2, jitter=0))
        return request.param("mock-model", api_base=getattr(server, BASES[request.param]), api_key=api_key,
                             **kwargs)
    return make


async def test_generate_over_http(server, make):
    server.script({"text": "Hello!", "usage": [21, 3]})
    answer = await make().agenerate(HELLO, stop_sequences=["</code>"])
    assert answer.content == "Hello!" and answer.token_usage.total_tokens == 24
    (request,) = server.requests
    assert "mock-model" in request.path or request.json["model"] == "mock-model"
    assert request.headers["content-type"] == "application/json"


async def test_stream_over_http_with_a_tool_call(server, make):
    server.script({"text": "Adding now.", "tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}}],
                   "usage": [40, 9]})
    deltas = [d async for d in make().generate_stream(HELLO)]
    message = agglomerate_stream_deltas(deltas)
    assert message.content == "Adding now."
    assert message.tool_calls[0].name == "add" and message.tool_calls[0].parsed_arguments() == {"a": 2, "b": 3}
    assert message.token_usage.total_tokens == 49
    assert server.requests[0].headers.get("accept") == "text/event-stream"


async def test_a_wrong_key_gets_the_providers_401_and_advice(server, make):
    with pytest.raises(AgentGenerationError, match="HTTP 401: Invalid API key.*Check the API key"):
        await make(api_key="wrong").agenerate(HELLO)
    assert len(server.requests) == 1


async def test_a_wrong_base_url_gets_404_advice(server, make):
    model = make()
    model.api_base += "/nope"
    with pytest.raises(AgentGenerationError, match="HTTP 404.*Check the model id 'mock-model' and the base URL"):
        await model.agenerate(HELLO)


async def test_429_with_retry_after_then_success(server, make):
    server.script({"status": 429, "retry_after": "5", "error": "slow down"}, {"status": 500}, "fine")
    model = make()
    assert (await model.agenerate(HELLO)).content == "fine"
    assert model.retrier.clock.sleeps == [5.0, 2.0]  # Retry-After, then backoff for the 500 (2nd retry)


async def test_a_slow_server_times_out_fast(server, make):
    server.script({"delay": 3}, {"delay": 3})
    start = time.monotonic()
    with pytest.raises(AgentGenerationError, match="after 2 attempts.*no answer.*raise timeout="):
        await make(timeout=0.3, max_retries=1).agenerate(HELLO)
    assert time.monotonic() - start < 2.5


async def test_a_stream_that_stalls_after_deltas_is_reported(server, make):
    server.script({"text": "one two three four five six seven", "stall": 3})
    received = []
    start = time.monotonic()
    with pytest.raises(AgentGenerationError, match="stream broke after part of the answer.*no answer"):
        async for delta in make(timeout=0.3).generate_stream(HELLO):
            received.append(delta)
    assert received and time.monotonic() - start < 2.5


async def test_a_truncated_json_body_is_retried(server, make):
    server.script({"text": "cut", "truncate": True}, "whole")
    assert (await make().agenerate(HELLO)).content == "whole"
    assert len(server.requests) == 2


async def test_a_stream_cut_before_any_delta_is_retried(server, make):
    server.script({"text": "lost", "truncate": True, "truncate_after": 0}, "kept")
    message = agglomerate_stream_deltas([d async for d in make().generate_stream(HELLO)])
    assert message.content == "kept" and len(server.requests) == 2


async def test_a_stream_cut_mid_answer_is_reported(server, make):
    server.script({"text": "one two three four five six seven eight", "truncate": True})
    with pytest.raises(AgentGenerationError, match="stream broke after part of the answer"):
        [d async for d in make().generate_stream(HELLO)]
    assert len(server.requests) == 1


async def test_a_stream_error_event_before_any_delta_is_retried(server, make):
    server.script({"text": "", "stream_error": "overloaded"}, "second try")
    message = agglomerate_stream_deltas([d async for d in make().generate_stream(HELLO)])
    assert message.content == "second try"


async def test_garbage_is_reported_with_what_came_back(server, make):
    server.script({"garbage": "<html>Bad Gateway</html>"}, {"garbage": "<html>Bad Gateway</html>"})
    with pytest.raises(AgentGenerationError, match="Bad Gateway"):
        await make().agenerate(HELLO)
    with pytest.raises(AgentGenerationError, match="not an event stream.*Bad Gateway"):
        [d async for d in make().generate_stream(HELLO)]
    assert len(server.requests) == 2


async def test_nothing_listening_is_a_network_error_with_advice(make):
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = make(max_retries=1)
    model.api_base = f"http://127.0.0.1:{port}"
    with pytest.raises(AgentGenerationError, match="could not reach.*Check the network and the base URL"):
        await model.agenerate(HELLO)


# -- agents against the mock ----------------------------------------------------------------------
async def test_a_code_agent_run_against_each_wire_format_ends_with_the_final_answer(server, make):
    server.script({"text": "Thought: add them.\n<code>\nresult = add(20, 22)\nprint(result)\n</code>"},
                  {"text": "Thought: done.\n<code>\nfinal_answer(result)\n</code>"})
    agent = CodeAgent([add], make(), executor_type="inprocess")
    result = await agent.arun("What is 20 + 22?", return_full_result=True)
    assert result.output == 42 and result.state == "success"
    assert result.token_usage.total_tokens == 2 * 17  # the mock's default usage, summed


async def test_a_streaming_code_agent_run(server, make):
    server.script({"text": "Thought: easy.\n<code>\nfinal_answer(add(1, 2))\n</code>"})
    agent = CodeAgent([add], make(), executor_type="inprocess", stream_outputs=True)
    assert await agent.arun("1 + 2?") == 3


async def test_a_tool_calling_agent_run_with_native_tool_calls(server, make):
    server.script({"tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 2, "b": 2}}]},
                  {"tool_calls": [{"id": "c2", "name": "final_answer", "arguments": {"answer": "4"}}]})
    agent = ToolCallingAgent([add], make())
    assert str(await agent.arun("2 + 2?")) == "4"
    second = server.requests[1].json
    assert "tools" in second
    last_turn = json.dumps((second.get("messages") or second["contents"])[-1])
    assert '"4"' in last_turn and ('"c1"' in last_turn or '"add"' in last_turn)  # the result answers call c1
    if "contents" in second:  # Gemini: the call goes back with its thought signature
        assert wire.GEMINI_SIGNATURE in json.dumps(second["contents"])
