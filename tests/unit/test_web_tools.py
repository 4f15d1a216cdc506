"""The web tools and `user_input`, against a loopback server that answers like the real APIs."""

import builtins

import pytest
from providers.fakes import ScriptedTransport
from providers.web_apis import WebApiServer

from wasm_agent import (CodeAgent, ScriptedModel, UserInputTool, VisitWebpageTool, WebSearchTool,
                        WikipediaSearchTool)
from wasm_agent.errors import AgentToolExecutionError
from wasm_agent.models.transport import TransportError
from wasm_agent.platform import IN_PYODIDE
from wasm_agent.tools.html_markdown import html_to_markdown


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


@pytest.fixture(scope="module")
def web():
    with WebApiServer() as server:
        yield server


# -- Wikipedia -------------------------------------------------------------------------------------
@pytest.mark.cpython_only
async def test_wikipedia_summary_through_the_mediawiki_api_with_origin_star(web):
    tool = WikipediaSearchTool(content_type="summary", api_url=f"{web.url}/w/api.php")
    answer = await tool.acall(query="Ada Lovelace")
    assert answer.startswith("Wikipedia page: Ada Lovelace\n\nAda Lovelace (1815–1852)")
    assert "== Life ==" not in answer and answer.endswith("Read more: https://en.wikipedia.org/wiki/Ada_Lovelace")
    path, headers = web.requests[-1]
    assert "origin=%2A" in path and "exintro=1" in path and "gsrsearch=Ada+Lovelace" in path
    assert headers["User-Agent"].startswith("wasm-agent")


@pytest.mark.cpython_only
async def test_wikipedia_full_text_and_a_query_with_no_page(web):
    tool = WikipediaSearchTool(api_url=f"{web.url}/w/api.php")
    assert "She was born in London." in await tool.acall(query="lovelace")
    assert await tool.acall(query="zzzz qqq") == ("No Wikipedia page was found for 'zzzz qqq'. "
                                                  "Try a shorter or different query.")


# -- pages -------------------------------------------------------------------------------------------
@pytest.mark.cpython_only
async def test_visit_webpage_reads_a_page_as_markdown(web):
    text = await VisitWebpageTool().acall(url=f"{web.url}/article.html")
    assert text.startswith("[Home](" + web.url + "/)\n\n# Lighthouses of Brittany")
    assert f"The **Phare du Créac'h** guards [Ushant]({web.url}/ushant.html)." in text
    assert "- Créac'h: 1863\n- Jument: 1911" in text and "track()" not in text


@pytest.mark.cpython_only
async def test_visit_webpage_cuts_long_pages_and_keeps_both_ends(web):
    text = await VisitWebpageTool(max_output_length=1000).acall(url=f"{web.url}/large.html")
    assert len(text) < 1200 and text.startswith("word word") and text.endswith("THE END")
    assert "truncated to stay below 1000 characters" in text


@pytest.mark.cpython_only
async def test_visit_webpage_through_a_cors_proxy(web):
    tool = VisitWebpageTool(cors_proxy=f"{web.url}/proxy?url={{url}}")
    text = await tool.acall(url=f"{web.url}/article.html")
    assert "# Lighthouses of Brittany" in text
    assert web.requests[-2][0] == "/proxy?url=" + f"{web.url}/article.html".replace(":", "%3A").replace("/", "%2F")


@pytest.mark.cpython_only
async def test_visit_webpage_errors_say_what_happened(web):
    agent = CodeAgent([VisitWebpageTool()], ScriptedModel([
        code(f"visit_webpage(url='{web.url}/missing')"), code(f"print(visit_webpage(url='{web.url}/logo.png'))"),
        code("visit_webpage(url='ftp://example.org/file')"), code("final_answer('done')")]), executor_type="inprocess")
    assert await agent.arun("Read") == "done"
    steps = agent.memory.steps[1:4]
    assert "answered HTTP 404" in steps[0].error.message
    assert "is not text (image/png, 108 bytes)" in steps[1].observations
    assert "is not a web address" in steps[2].error.message


async def test_a_page_that_cannot_be_fetched_says_why_for_this_platform():
    tool = VisitWebpageTool(transport=ScriptedTransport(TransportError("fetch could not send the request")))
    with pytest.raises(AgentToolExecutionError) as failed:
        await tool.acall(url="https://example.org/")
    message = str(failed.value)
    if IN_PYODIDE:  # a browser hides why: the tool names CORS, and what the site owner can do
        assert "Access-Control-Allow-Origin" in message and "cors_proxy" in message
    else:
        assert message == "The page https://example.org/ could not be fetched: fetch could not send the request"


# -- search ------------------------------------------------------------------------------------------
@pytest.mark.cpython_only
@pytest.mark.parametrize(("path", "headers", "expected"), [
    ("/search/searxng?q={query}&format=json", {}, "[First result](https://example.org/a)\nAbout llamas in Peru"),
    ("/search/brave?q={query}", {"X-Subscription-Token": "brave-key"}, "[Brave hit](https://example.org/brave)\nFrom Brave"),
    ("/search/google?q={query}", {}, "[Google hit](https://example.org/g)\nFrom Google"),
])
async def test_web_search_reads_each_apis_shape(web, path, headers, expected):
    tool = WebSearchTool(web.url + path, headers=headers)
    answer = await tool.acall(query="llamas in Peru")
    assert answer.startswith("## Search Results\n\n" + expected)
    assert "q=llamas%20in%20Peru" in web.requests[-1][0]


@pytest.mark.cpython_only
async def test_web_search_refused_key_is_an_error(web):
    with pytest.raises(AgentToolExecutionError, match="The search endpoint answered HTTP 401"):
        await WebSearchTool(web.url + "/search/brave?q={query}").acall(query="x")
    with pytest.raises(ValueError, match=r"\{query\}"):
        WebSearchTool("https://search.example.org/?q=")


def test_html_to_markdown_keeps_code_tables_and_quotes():
    html = ("<pre>def f():\n    return 1</pre><table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr>"
            "</table><blockquote>quoted</blockquote><ol><li>one</li><li>two</li></ol>")
    assert html_to_markdown(html) == ("```\ndef f():\n    return 1\n```\n\n| k | v |\n| --- | --- |\n| a | 1 |\n\n"
                                      "> quoted\n\n1. one\n2. two")


# -- user_input -------------------------------------------------------------------------------------
async def test_user_input_asks_through_the_given_function():
    asked = []

    async def ask(question):
        asked.append(question)
        return "blue"

    agent = CodeAgent([UserInputTool(ask=ask)], ScriptedModel([
        code("colour = user_input('Favourite colour?')\nfinal_answer(colour)")]), executor_type="inprocess")
    assert await agent.arun("Ask") == "blue"
    assert asked == ["Favourite colour?"]


@pytest.mark.cpython_only
def test_user_input_asks_the_terminal_on_cpython(monkeypatch):
    prompts = []
    monkeypatch.setattr(builtins, "input", lambda prompt: prompts.append(prompt) or "42")
    agent = CodeAgent([UserInputTool()], ScriptedModel([code("final_answer(int(user_input('How many?')) + 1)")]),
                      executor_type="inprocess")
    assert agent.run("Ask") == 43
    assert prompts == ["How many? => Type your answer here: "]
