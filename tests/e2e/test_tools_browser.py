"""Tools from outside the page, in Chromium: MCP servers (the official SDK's server, on another
loopback origin than the page) and the user's own answers (`user_input`).

What a user sees: the agent lists and calls an MCP server's tools from its code; a server
without CORS, a 401, a failing tool and a server that dies mid-call each give a message that
says what happened; Model settings adds a server and lists its tools; the agent asks its user
a question in the chat and waits, and Stop still ends the run.
"""

from __future__ import annotations

import json

import pytest
from site_pages import MockProviderServer, SitePage, SiteServer, build_site, screenshot

from tests.providers.mcp_process import mcp_server
from tests.providers.web_apis import WebApiServer

pytest.importorskip("mcp", reason="the test extra installs the MCP SDK: pip install -e '.[test]'")

KEY = "sk-test-key"
TOKEN = "mcp-secret"


@pytest.fixture(scope="module")
def site_url(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "dist"
    build_site(out, log=lambda *_: None)
    server = SiteServer(out, port=0, isolated=True).start()
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def mcp_url():
    """A server that needs a token, with CORS: preflights must let the Authorization header through."""
    with mcp_server("--token", TOKEN) as (url, _):
        yield url


@pytest.fixture(scope="module")
def page(browser, site_url):
    page = SitePage(browser, site_url).open()
    yield page
    page.close()


@pytest.fixture(scope="module")
def mock():
    with MockProviderServer(api_key=KEY) as server:
        yield server


def run_agent(page, responses, servers=(), task="Use the tools", **options):
    """createAgent + run in the page; returns {output, state, observations, error}."""
    return page.page.evaluate("""async ([responses, options, task]) => {
        const { createAgent } = await import("./wasm-agent.js");
        let agent;
        try {
            agent = await createAgent({ model: { provider: "scripted", responses }, ...options });
        } catch (error) {
            return { error: error.message, name: error.name };
        }
        const observations = [];
        for await (const event of agent.stream(task)) {
            if (event.type === "step") observations.push(event.error ? event.error.message : event.observations);
        }
        await agent.close();
        return { output: agent.lastResult.output, state: agent.lastResult.state, observations };
    }""", [responses, {"mcpServers": list(servers), **options}, task])


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


def test_the_page_lists_and_calls_the_tools_of_an_mcp_server_on_another_origin(page, mcp_url, site_url):
    assert mcp_url.split("/mcp")[0] != site_url  # another origin: CORS applies
    # The model's code reaches the server only through the tools, which run outside the sandbox.
    direct = (f"import js\nfrom pyodide.ffi import run_sync\ntry:\n    run_sync(js.fetch({mcp_url!r}))\n"
              "    print('direct: ALLOWED')\nexcept Exception as error:\n    print('direct: blocked', error)")
    result = run_agent(page, [code(direct), code("w = weather(city='Lyon')\nfinal_answer([add(a=2, b=3), w['sky'], "
                                                 "shout_text(text='hi', times=2)])")],
                       [{"url": mcp_url, "headers": {"Authorization": f"Bearer {TOKEN}"}}])
    assert result.get("error") is None, result
    assert (result["output"], result["state"]) == ([5, "clear", "HI HI"], "success")
    assert "direct: blocked" in result["observations"][0], result["observations"][0]
    assert page.errors == []


def test_a_failing_tool_and_a_dying_server_become_observations(page):
    with mcp_server() as (url, process):
        result = run_agent(page, [code("divide(a=1, b=0)"), code("crash()"), code("final_answer('went on')")],
                           [{"url": url}])
        assert process.wait(10) == 3
    assert result["output"] == "went on", result
    assert "cannot divide by zero" in result["observations"][0]
    died = result["observations"][1]
    assert "MCP server" in died and ("broke" in died or "closed" in died), died


def test_a_server_without_cors_or_with_a_wrong_token_is_a_clear_error(page, mcp_url):
    with mcp_server("--no-cors") as (url, _):
        refused = run_agent(page, [], [{"url": url}])
    assert refused["name"] == "MCPError"
    assert f"could not reach the MCP server at {url}" in refused["error"]
    assert "Access-Control-Allow-Origin" in refused["error"]
    unauthorized = run_agent(page, [], [{"url": mcp_url, "headers": {"Authorization": "Bearer wrong"}}])
    assert unauthorized["name"] == "MCPAuthError" and "HTTP 401" in unauthorized["error"], unauthorized
    page.errors.clear()  # the browser logs the refused requests itself


def test_settings_add_a_server_list_its_tools_and_remove_it(page, mcp_url):
    ui = page.page
    ui.click("#open-settings")
    ui.fill("#mcp-url", mcp_url)
    ui.click("#mcp-add")
    ui.wait_for_selector("#mcp-status:has-text('Not added')", timeout=30_000)
    assert "HTTP 401" in ui.text_content("#mcp-status")
    ui.fill("#mcp-auth", f"Bearer {TOKEN}")
    ui.click("#mcp-add")
    ui.wait_for_selector(".mcp-server", timeout=30_000)
    assert ui.text_content(".mcp-server .mcp-url") == mcp_url
    assert "add, weather, shout_text, divide" in ui.text_content(".mcp-server .mcp-tools")
    assert json.loads(ui.evaluate("localStorage.getItem('wasm-agent:mcp-servers')"))[0]["url"] == mcp_url
    assert TOKEN not in ui.evaluate("JSON.stringify(localStorage)")  # the token stays in the tab's memory
    screenshot(ui, "mcp-settings")
    ui.click(f"button[aria-label='Remove the MCP server {mcp_url}']")
    assert ui.locator(".mcp-server").count() == 0
    ui.click("#cancel-settings")
    page.errors.clear()  # the refused first attempt is logged by the browser


def test_the_agent_asks_its_user_in_the_chat_and_uses_the_answer(page, mock, mcp_url):
    mock.reset()
    mock.script(code("name = user_input('What is your name?')\nfinal_answer(f'Hello {name}!')"))
    page.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
    page.start("Greet me")
    ui = page.page
    question = ui.locator(".user-question[role=dialog]")
    question.wait_for(timeout=60_000)
    assert "What is your name?" in question.text_content()
    assert ui.evaluate("document.activeElement.closest('.user-question') !== null")  # focus is on the answer box
    screenshot(ui, "user-input-question")
    ui.fill(".user-question input", "Ada")
    ui.click(".user-question button[type=submit]")
    page.wait_idle()
    assert page.last_turn().locator(".final-text").text_content() == "Hello Ada!"
    assert "You answered: Ada" in page.last_turn().text_content()


def test_stop_ends_a_run_that_waits_for_the_user(page, mock):
    mock.reset()
    mock.script(code("answer = user_input('Shall I go on?')\nfinal_answer(answer)"))
    page.start("Ask me")
    ui = page.page
    ui.locator(".user-question[role=dialog]").wait_for(timeout=60_000)
    ui.click("#stop")
    page.wait_idle()
    turn = page.last_turn().text_content()
    assert "No answer: the run was stopped." in turn
    assert page.last_turn().locator(".final-text").count() == 0
    page.run_ok = ui.is_enabled("#run")
    assert page.run_ok


@pytest.fixture(scope="module")
def web():
    with WebApiServer() as server:
        yield server


def test_the_page_reads_wikipedia_and_is_told_when_a_site_refuses_cors(page, web):
    tools = [{"name": "wikipedia_search", "apiUrl": f"{web.url}/w/api.php", "contentType": "summary"},
             "visit_webpage"]
    result = run_agent(page, [code("print(wikipedia_search(query='Ada Lovelace'))"),
                              code(f"visit_webpage(url='{web.url}/article.html')"),
                              code("final_answer('read')")], builtinTools=tools)
    assert result["output"] == "read", result
    assert "Wikipedia page: Ada Lovelace" in result["observations"][0]
    assert "Analytical Engine" in result["observations"][0]
    refused = result["observations"][1]
    assert "does not allow cross-origin requests" in refused and "CORS proxy" in refused, refused
    api_calls = [headers for path, headers in web.requests if path.startswith("/w/api.php") and "origin=%2A" in path]
    assert api_calls and api_calls[-1].get("Api-User-Agent", "").startswith("wasm-agent")
    page.errors.clear()  # the browser logs the refused request itself


def test_a_cors_proxy_set_by_the_site_owner_lets_the_page_read_any_page(page, web):
    proxy = {"name": "visit_webpage", "corsProxy": f"{web.url}/proxy?url={{url}}"}
    result = run_agent(page, [code(f"final_answer(visit_webpage(url='{web.url}/article.html'))")],
                       builtinTools=[proxy])
    assert "# Lighthouses of Brittany" in result["output"], result
    assert "**Phare du Créac'h**" in result["output"]
    assert page.errors == []


def test_the_wasm_agent_element_takes_mcp_servers_and_asks_in_its_own_chat(page, mock):
    mock.reset()
    mock.script(code("name = user_input('Who are you?')\nfinal_answer(f'{name}: {add(a=1, b=2)}')"))
    ui = page.page
    with mcp_server() as (url, _):
        ui.evaluate("""([url, base, key]) => {
            const element = document.createElement("wasm-agent");
            element.id = "embedded";
            for (const [name, value] of [["provider", "openai"], ["base-url", base], ["model", "m"], ["mcp-servers", url]]) {
                element.setAttribute(name, value);
            }
            element.apiKey = key;
            document.body.append(element);
            window.embeddedResult = element.run("Who and 1 + 2?");
        }""", [url, mock.openai_base, KEY])
        box = ui.locator("#embedded .user-question[role=dialog]")
        box.wait_for(timeout=60_000)
        assert "Who are you?" in box.text_content()
        ui.fill("#embedded .user-question input", "Grace")
        ui.click("#embedded .user-question button[type=submit]")
        assert ui.evaluate("window.embeddedResult.then((result) => result.output)") == "Grace: 3"
    ui.evaluate("document.querySelector('#embedded').remove()")
    assert page.errors == []
