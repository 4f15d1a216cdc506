"""MCP tools on CPython, against the official `mcp` SDK's server (Streamable HTTP, on loopback)."""

import socket

import pytest
from deno_sandbox import require_deno_sandbox
from providers.mcp_process import mcp_server

from wasm_agent import CodeAgent, MCPClient, ScriptedModel, ToolCollection
from wasm_agent.errors import AgentToolExecutionError
from wasm_agent.tools.mcp import MCPAuthError, MCPError, MCPSession

pytestmark = pytest.mark.cpython_only
pytest.importorskip("mcp", reason="the test extra installs the MCP SDK: pip install -e '.[test]'")


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


def params(url, **extra):
    return {"url": url, "transport": "streamable-http", **extra}


@pytest.fixture(scope="module")
def server_url():
    with mcp_server() as (url, _):
        yield url


@pytest.fixture(scope="module")
def json_server_url():
    with mcp_server("--json") as (url, _):
        yield url


def test_tools_of_every_page_are_listed_with_their_schemas(server_url):
    with MCPClient(params(server_url)) as tools:
        by_name = {tool.name: tool for tool in tools}
    # two per page: the client followed nextCursor to the end
    assert set(by_name) == {"add", "weather", "shout_text", "divide", "wait", "crash", "unlock"}
    assert by_name["add"].inputs == {"a": {"type": "integer", "description": "A"},
                                     "b": {"type": "integer", "description": "B"}}
    assert by_name["add"].output_type == "integer"
    assert by_name["shout_text"].inputs["times"].get("nullable") is True  # it has a default
    assert by_name["weather"].output_type == "object"
    assert "temperature_c" in by_name["weather"].to_code_prompt()


@pytest.mark.parametrize("mode", ["sse", "json"])
def test_generated_code_calls_mcp_tools_and_gets_structured_results(mode, server_url, json_server_url):
    url = server_url if mode == "sse" else json_server_url
    with MCPClient(params(url)) as tools:
        agent = CodeAgent(tools, ScriptedModel([code(
            "w = weather(city='Lyon')\nfinal_answer([add(2, 3), w['sky'], shout_text(text='hi', times=2)])")]),
            executor_type="inprocess")
        assert agent.run("Use the tools") == [5, "clear", "HI HI"]


def test_tool_collection_needs_trust_and_yields_the_tools(server_url):
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        with ToolCollection.from_mcp(params(server_url)):
            pass
    with ToolCollection.from_mcp(params(server_url), trust_remote_code=True) as collection:
        assert "divide" in [tool.name for tool in collection.tools]


def test_a_tool_error_becomes_an_observation_and_the_run_goes_on(server_url):
    with MCPClient(params(server_url)) as tools:
        agent = CodeAgent(tools, ScriptedModel([code("divide(a=1, b=0)"), code("final_answer('recovered')")]),
                          executor_type="inprocess")
        assert agent.run("Divide") == "recovered"
    error = agent.memory.steps[1].error
    assert "the MCP tool 'divide' failed" in error.message and "cannot divide by zero" in error.message


def test_without_structured_output_tools_return_their_text(server_url):
    with MCPClient(params(server_url), structured_output=False) as tools:
        agent = CodeAgent(tools, ScriptedModel([code("final_answer([add(a=2, b=3), weather(city='Lyon')])")]),
                          executor_type="inprocess")
        added, weather = agent.run("Use the tools")
    assert added == "5" and '"sky": "clear"' in weather
    assert {tool.name: tool.output_type for tool in tools}["add"] == "string"


def test_get_tools_lists_again_after_list_changed():
    with mcp_server() as (url, _):
        client = MCPClient(params(url))
        try:
            unlock = next(tool for tool in client.get_tools() if tool.name == "unlock")
            assert CodeAgent([unlock], ScriptedModel([code("final_answer(unlock())")]),
                             executor_type="inprocess").run("Unlock") == "unlocked"
            secret = next(tool for tool in client.get_tools() if tool.name == "secret")
            assert CodeAgent([secret], ScriptedModel([code("final_answer(secret())")]),
                             executor_type="inprocess").run("Tell") == "the secret is 42"
        finally:
            client.disconnect()


def test_authorization_header_is_sent_and_a_401_says_what_to_give():
    with mcp_server("--token", "s3cret") as (url, _):
        with pytest.raises(MCPAuthError) as refused:
            MCPClient(params(url))
        assert "HTTP 401" in str(refused.value) and "Authorization" in str(refused.value)
        assert 'Bearer error="invalid_token"' in str(refused.value)  # the server's own challenge
        with MCPClient(params(url, headers={"Authorization": "Bearer s3cret"})) as tools:
            assert any(tool.name == "add" for tool in tools)


def test_a_server_that_dies_mid_call_fails_that_call_and_the_run_goes_on():
    with mcp_server() as (url, process), MCPClient(params(url)) as tools:
        agent = CodeAgent(tools, ScriptedModel([code("crash()"), code("final_answer('still here')")]),
                          executor_type="inprocess")
        assert agent.run("Crash it") == "still here"
        assert process.wait(10) == 3
    message = agent.memory.steps[1].error.message
    assert "MCP server" in message and ("broke" in message or "closed" in message), message


def test_an_unreachable_server_is_a_clear_error():
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MCPError, match=f"could not reach the MCP server at http://127.0.0.1:{port}/mcp"):
        MCPClient(params(f"http://127.0.0.1:{port}/mcp"))


def test_a_slow_tool_times_out_with_the_limit_named(server_url):
    with MCPClient(params(server_url, timeout=0.5)) as tools:
        agent = CodeAgent(tools, ScriptedModel([code("wait(seconds=5)"), code("final_answer('done')")]),
                          executor_type="inprocess")
        assert agent.run("Wait") == "done"
    assert "did not answer tools/call within 0.5 s" in agent.memory.steps[1].error.message


async def test_a_forgotten_session_is_opened_again(server_url):
    session = MCPSession(server_url)
    await session.open()
    first = session.session_id
    session.session_id = "forgotten-by-the-server"
    result = await session.call_tool("add", {"a": 1, "b": 1})
    assert result["structuredContent"] == {"result": 2}
    assert session.session_id not in (first, "forgotten-by-the-server")
    await session.close()


def test_unsupported_server_parameters_say_what_works():
    with pytest.raises(ValueError, match="streamable-http"):
        MCPClient({"url": "http://127.0.0.1:9/sse", "transport": "sse"})
    with pytest.raises(ValueError, match="stdio servers need a subprocess"):
        MCPClient({"command": "uvx", "args": ["some-server"]})


async def test_mcp_tools_run_on_the_host_when_code_runs_in_the_deno_sandbox(server_url):
    require_deno_sandbox()
    async with MCPClient(params(server_url)) as tools:
        agent = CodeAgent(tools, ScriptedModel([code("final_answer(add(a=40, b=2))")]))  # the WASM sandbox
        try:
            assert await agent.arun("Add") == 42
        finally:
            await agent.close()
