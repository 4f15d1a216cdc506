"""The agent playground in Chromium, as a person uses it: write tools (a schema mistake is flagged
at its line, then fixed), run a task that calls them against the loopback OpenAI-compatible mock,
keep the project across a reload, rename, duplicate, delete, export and import it, start from
a template, and let generated code import a package of the site only while its box is checked.
The tests run in order on one page; screenshots go to tests/e2e/artifacts/playground-*.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from tests.providers.mcp_process import mcp_server
from site_pages import MockProviderServer, SitePage, SiteServer, build_site, screenshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from wheel_factory import make_wheel  # noqa: E402

KEY = "sk-playground-key"

PYTHON_TOOL_WITH_ERROR = '''import collections


@tool
def count_words(text: str,
                top: int) -> dict:
    """Count the words of a text, most frequent first.

    Args:
        text: The text to count.
    """
    counts = collections.Counter(text.lower().split())
    return dict(counts.most_common(top))
'''
PYTHON_TOOL = PYTHON_TOOL_WITH_ERROR.replace(
    "        text: The text to count.\n",
    "        text: The text to count.\n        top: How many of the most frequent words to return.\n")

JS_TOOL_WITH_ERROR = '''export default [{
  name: "shout",
  inputs: { text: { type: "string", description: "Words to shout." } },
  outputType: "string",
  fn: ({ text }) => `${text.toUpperCase()}!`,
}];
'''
JS_TOOL = JS_TOOL_WITH_ERROR.replace('  name: "shout",\n', '  name: "shout",\n  description: "The text in capitals.",\n')

CODE_STEP = """Thought: I count the words, then shout the most frequent one.
<code>
counts = count_words(text="the cat and the hat", top=1)
print("counts:", counts)
loud = shout(text=list(counts)[0])
print("loud:", loud)
</code>"""
FINAL_STEP = """Thought: Done.
<code>
final_answer(f"{loud} appears {counts['the']} times")
</code>"""

EXTRA_MODULE = "def greet(name):\n    return f'hello {name}, from the wa_extra package'\n"
IMPORTING_STEP = "Thought: I use the package.\n<code>\nimport wa_extra\nfinal_answer(wa_extra.greet('Ada'))\n</code>"


@pytest.fixture(scope="module")
def mock():
    with MockProviderServer(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def site(browser, tmp_path_factory, mock):
    out = tmp_path_factory.mktemp("playground") / "dist"
    extra = make_wheel(tmp_path_factory.mktemp("wheels"), "wa-extra", files={"wa_extra.py": EXTRA_MODULE})
    # The page loads wllama (no weights needed); the site ships one extra package generated code may import.
    build_site(out, browser_model="engine", extra_wheels=(extra,), log=lambda *_: None)
    server = SiteServer(out, port=0).start()
    page = SitePage(browser, server.url, viewport=(1440, 1000)).open()
    page.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
    yield page
    page.close()
    server.close()


def replace_code(page, editor: str, text: str) -> None:
    """Select all the text of a code editor and type `text` in its place, as a paste would."""
    page.click(f"{editor} .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def editor_lines(page, editor: str) -> list[str]:
    return page.locator(f"{editor} .cm-line").all_inner_texts()


def wait_for_check(page, report: str, text: str):
    page.locator(report, has_text=text).wait_for(timeout=30_000)


def wait_saved(page):
    page.locator("#pg-save-status", has_text=re.compile(r"^Saved ")).wait_for()


def open_template(page, template: str, name: str) -> None:
    """Back on the start screen, open a starter template: the playground shows it as a new project."""
    page.click("#pg-close")
    page.click(f"#templates .pg-template[data-template={template}]")
    page.locator("#pg-project-list .pg-project[aria-current=true]", has_text=name).wait_for()


def test_start_screen_offers_the_starter_templates(site):
    labels = site.page.locator("#templates .pg-template .example-kind").all_text_contents()
    assert labels == ["Calculator and data agent", "Agent that uses the page", "Agent with an MCP server"]
    screenshot(site.page, "playground-start-screen")


def test_a_python_tool_with_an_error_is_flagged_at_its_line_then_fixed(site):
    page = site.page
    page.click("#open-playground")
    page.wait_for_selector("#playground:not([hidden]) #pg-python .cm-content")
    assert page.is_hidden("#task")  # the chat steps aside
    # Screen readers find each editor by its name, and its problems in a live region.
    assert page.get_by_role("textbox", name="Python tools").is_visible()
    assert page.get_by_role("textbox", name="JS tools").is_visible()
    assert page.get_by_role("status", name="Python tools check").count() == 1
    page.fill("#pg-name", "Word agent")
    replace_code(page, "#pg-python", PYTHON_TOOL_WITH_ERROR)
    assert editor_lines(page, "#pg-python")[5] == "                top: int) -> dict:"
    wait_for_check(page, "#pg-python-check", "1 problem to fix")
    assert page.locator("#pg-python-check li").all_inner_texts() == [
        "Line 6: @tool count_words: the docstring has no description for the argument 'top' "
        "(write it in the Args: section)"]
    line = page.locator("#pg-python .cm-line").nth(5)  # the editor marks that line
    assert line.locator(".cm-lintRange-error").count() == 1
    assert page.locator("#pg-python .cm-lint-marker-error").count() == 1
    page.locator("#pg-python-check").scroll_into_view_if_needed()
    screenshot(page, "playground-python-error")

    replace_code(page, "#pg-python", PYTHON_TOOL)
    wait_for_check(page, "#pg-python-check", "Tools: count_words.")
    assert page.locator("#pg-python .cm-lintRange-error").count() == 0
    assert page.locator("#pg-python-check li").count() == 0


def test_a_js_tool_with_an_error_is_flagged_at_its_line_then_fixed(site):
    page = site.page
    replace_code(page, "#pg-js", JS_TOOL_WITH_ERROR)
    wait_for_check(page, "#pg-js-check", "1 problem to fix")
    assert page.locator("#pg-js-check li").all_inner_texts() == [
        "Line 2: tool 'shout': a description is required"]
    assert page.locator("#pg-js .cm-line").nth(1).locator(".cm-lintRange-error").count() == 1
    replace_code(page, "#pg-js", JS_TOOL.replace("outputType: \"string\",", "outputType: \"string\" +,"))
    wait_for_check(page, "#pg-js-check li", "SyntaxError")
    problem = page.locator("#pg-js-check li").inner_text()
    assert problem.startswith("Line 5: SyntaxError: "), problem
    page.locator("#pg-js-check").scroll_into_view_if_needed()
    screenshot(page, "playground-js-error")
    replace_code(page, "#pg-js", JS_TOOL)
    wait_for_check(page, "#pg-js-check", "Tools: shout.")
    wait_saved(page)


def test_run_calls_both_tools_and_is_listed_with_outcome_steps_and_tokens(site, mock):
    page = site.page
    mock.script(CODE_STEP, FINAL_STEP)
    page.fill("#pg-task", "Which word of 'the cat and the hat' is most frequent? Shout it.")
    page.click("#pg-run")
    row = page.locator("#pg-runs tbody tr").first
    row.wait_for(timeout=120_000)
    cells = row.locator("td").all_inner_texts()
    assert cells[2] == "Answered: THE! appears 2 times", cells
    assert cells[3] == "2"
    assert cells[4] != "0 / 0" and " / " in cells[4]
    tools = page.locator("#pg-log .tool-use").all_inner_texts()
    assert any(text.startswith("count_words(") and '"the":2' in text for text in tools), tools
    assert any(text.startswith("shout(") and "THE!" in text for text in tools), tools
    # The instructions reached the model, and the key only the provider.
    posts = [request for request in mock.requests if request.method == "POST"]
    assert [request.headers.get("authorization") for request in posts] == [f"Bearer {KEY}"] * 2
    assert "count_words" in json.dumps(posts[0].json["messages"])
    screenshot(page, "playground-run")


def test_a_second_version_is_listed_next_to_the_first(site, mock):
    page = site.page
    page.fill("#pg-instructions", "Answer in capitals.")
    wait_saved(page)
    mock.script("Thought: I know it.\n<code>\nfinal_answer('THE')\n</code>")
    page.fill("#pg-task", "Most frequent word of 'the cat and the hat'?")
    page.click("#pg-run")
    page.locator("#pg-runs tbody tr").nth(1).wait_for(timeout=120_000)
    rows = [row.locator("td").all_inner_texts() for row in page.locator("#pg-runs tbody tr").all()]
    assert [row[2] for row in rows] == ["Answered: THE", "Answered: THE! appears 2 times"]
    assert [row[3] for row in rows] == ["1", "2"]
    assert rows[0][6] != rows[1][6]  # different definitions, different versions
    assert "Answer in capitals." in json.dumps(mock.requests[-1].json["messages"])
    screenshot(page, "playground-two-versions")


def test_the_project_is_still_there_after_a_reload(site):
    page = site.page
    page.reload()
    site.wait_ready()
    page.click("#open-playground")
    page.wait_for_selector("#pg-runs tbody tr >> nth=1")
    assert page.locator("#pg-project-list .pg-project[aria-current=true]").inner_text().startswith("Word agent")
    assert page.input_value("#pg-name") == "Word agent"
    assert page.input_value("#pg-instructions") == "Answer in capitals."
    assert "        top: How many of the most frequent words to return." in editor_lines(page, "#pg-python")
    wait_for_check(page, "#pg-js-check", "Tools: shout.")
    screenshot(page, "playground-after-reload")


def test_the_playground_works_offline_from_the_service_worker(site):
    page = site.page
    page.context.set_offline(True)
    try:
        page.reload()
        site.wait_ready()
        page.click("#open-playground")
        page.wait_for_selector("#pg-python .cm-content")  # the editor bundle came from the cache
        wait_for_check(page, "#pg-python-check", "Tools: count_words.")
        wait_for_check(page, "#pg-js-check", "Tools: shout.")
    finally:
        page.context.set_offline(False)


def test_rename_duplicate_and_delete(site):
    page = site.page
    page.fill("#pg-name", "Word counter")
    page.locator("#pg-project-list .pg-project", has_text="Word counter").wait_for()
    page.click("#pg-duplicate")
    page.locator("#pg-project-list .pg-project[aria-current=true]", has_text="Word counter (copy)").wait_for()
    assert page.input_value("#pg-name") == "Word counter (copy)"
    assert page.locator("#pg-runs tbody tr").count() == 0  # a copy starts without runs
    assert "        top: How many of the most frequent words to return." in editor_lines(page, "#pg-python")
    screenshot(page, "playground-duplicated")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#pg-delete")
    page.wait_for_selector("#pg-save-status:has-text('Deleted “Word counter (copy)”')")
    names = [text.split(" · ")[0] for text in page.locator("#pg-project-list .pg-project").all_inner_texts()]
    assert names == ["Word counter"]


def test_export_then_import_and_a_bad_file_is_refused_naming_the_field(site, tmp_path):
    page = site.page
    with page.expect_download() as download:
        page.click("#pg-export")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "Word-counter.wasm-agent.json"
    exported = json.loads(path.read_text())
    assert exported["format"] == "wasm-agent-project" and exported["agent"]["python_tools"] == PYTHON_TOOL
    assert KEY not in path.read_text()

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**exported, "agent": {**exported["agent"], "max_steps": "eight"}}))
    page.set_input_files("#pg-import", str(bad))
    page.wait_for_selector("#pg-import-status:has-text('agent.max_steps')")
    assert page.inner_text("#pg-import-status") == (
        'bad.json was not imported: agent.max_steps: must be a whole number between 1 and 100, not "eight"')
    screenshot(page, "playground-import-refused")

    exported["name"] = "Word counter imported"
    path.write_text(json.dumps(exported))
    page.set_input_files("#pg-import", str(path))
    page.locator("#pg-project-list .pg-project[aria-current=true]", has_text="Word counter imported").wait_for()
    assert page.inner_text("#pg-import-status") == ""
    assert page.locator("#pg-project-list .pg-project").count() == 2  # the same id: imported as a new project
    wait_for_check(page, "#pg-python-check", "Tools: count_words.")


def test_a_template_opens_as_a_project_whose_tools_check(site):
    page = site.page
    open_template(page, "data", "Calculator and data agent")
    wait_for_check(page, "#pg-python-check", "Tools: describe_numbers, convert_units.")
    screenshot(page, "playground-template")


def test_the_page_template_runs_js_tools_that_use_the_page(site, mock):
    page = site.page
    site.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)  # the key was in the reloaded tab only
    open_template(page, "page", "Page agent")
    wait_for_check(page, "#pg-js-check", "Tools: page_info, show_note.")
    mock.script('Thought: I read the page and show its title.\n<code>\ninfo = page_info()\n'
                'shown = show_note(text="You are on: " + info["title"])\nfinal_answer(shown)\n</code>')
    page.fill("#pg-task", "What is the title of this page? Show it to me as a note.")
    page.click("#pg-run")
    page.locator("#pg-runs tbody tr").first.wait_for(timeout=120_000)
    title = page.title()
    assert page.locator("#pg-runs tbody tr td.pg-run-outcome").inner_text() == f"Answered: You are on: {title}"
    assert page.locator(".playground-note").inner_text() == f"You are on: {title}"
    screenshot(page, "playground-page-template")


def test_the_keyboard_leaves_an_editor_and_runs_a_task(site, mock):
    page = site.page
    page.click("#pg-python .cm-content")
    page.keyboard.press("Tab")  # Tab indents inside the editor…
    assert page.evaluate("document.activeElement.closest('#pg-python') !== null")
    page.keyboard.press("Escape")  # …Escape then Tab moves on, to the next editor
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "JS tools"
    mock.script("Thought: Done.\n<code>\nfinal_answer('typed')\n</code>")
    page.focus("#pg-task")
    page.keyboard.type("Answer 'typed'.")
    page.keyboard.press("Control+Enter")
    page.locator("#pg-runs tbody tr td.pg-run-outcome", has_text="Answered: typed").wait_for(timeout=120_000)


def test_the_mcp_template_runs_a_tool_of_an_mcp_server(site, mock):
    page = site.page
    open_template(page, "mcp", "MCP agent")
    with mcp_server() as (url, _):
        page.fill("#pg-mcp", url)
        wait_saved(page)
        mock.script("Thought: I add with the server's tool.\n<code>\nfinal_answer(add(a=2, b=3))\n</code>")
        page.fill("#pg-task", "Add 2 and 3 with your tools.")
        page.click("#pg-run")
        page.locator("#pg-runs tbody tr").first.wait_for(timeout=120_000)
    assert page.locator("#pg-runs tbody tr td.pg-run-outcome").inner_text() == "Answered: 5"
    assert "add(" in json.dumps(mock.requests[-1].json["messages"])  # the server's tools were in the prompt
    screenshot(page, "playground-mcp-template")
    assert site.errors == []


def test_a_package_of_the_site_is_importable_only_when_its_box_is_checked(site, mock):
    page = site.page
    if page.is_hidden("#playground"):
        page.click("#open-playground")
    page.click("#pg-new")
    page.fill("#pg-name", "Package agent")
    box = page.get_by_role("checkbox", name="wa_extra")
    assert page.locator("#pg-wheels input[name=wheel]").evaluate_all("boxes => boxes.map((box) => box.value)") == ["wa_extra"]
    assert not box.is_checked()
    box.check()
    wait_saved(page)
    mock.script(IMPORTING_STEP)
    page.fill("#pg-task", "Greet Ada with the package.")
    page.click("#pg-run")
    outcome = page.locator("#pg-runs tbody tr td.pg-run-outcome").first
    outcome.wait_for(timeout=120_000)
    assert outcome.inner_text() == "Answered: hello Ada, from the wa_extra package"
    system = json.dumps(mock.requests[-1].json["messages"][0])
    assert "wa_extra" in system  # the model is told it may import the package
    page.locator("#pg-wheels").scroll_into_view_if_needed()
    screenshot(page, "playground-package-checked")

    box.uncheck()
    wait_saved(page)
    mock.script(IMPORTING_STEP, "Thought: The package is not there.\n<code>\nfinal_answer('no package')\n</code>")
    page.fill("#pg-task", "Greet Ada with the package again.")
    page.click("#pg-run")
    page.locator("#pg-runs tbody tr").nth(1).wait_for(timeout=120_000)
    assert page.locator("#pg-runs tbody tr td.pg-run-outcome").first.inner_text() == "Answered: no package"
    error = page.locator("#pg-log .step-error").first.inner_text()
    assert "ModuleNotFoundError: No module named 'wa_extra'" in error, error
    assert "'wa_extra' is not among the modules this agent may import" in error, error  # and the model reads why
    assert "wa_extra" not in json.dumps(mock.requests[-2].json["messages"][0])  # nor offered to the model
    screenshot(page, "playground-package-unchecked")
    assert site.errors == []
