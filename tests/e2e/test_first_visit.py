"""The first minutes of a visitor, in the built site (Debian's Chromium, the loopback mock provider):
what the start screen says and offers, feedback while the model is silent, Stop and Resume,
the trace of a past run, a key pasted with a placeholder, and the page on a phone (390 and
320 px wide: no horizontal scroll, every control of every dialog on screen; screenshots in
tests/e2e/artifacts/).

    python -m pytest tests/e2e/test_first_visit.py
"""

from __future__ import annotations

import pytest
from site_pages import MockProviderServer, SitePage, SiteServer, build_site, screenshot

KEY = "sk-first-visit"
PHONE = (390, 844)


def code(body: str, thought: str = "I act.") -> str:
    return f"Thought: {thought}\n<code>\n{body}\n</code>"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = tmp_path_factory.mktemp("first-visit") / "dist"
    build_site(out, log=lambda *_: None)
    site = SiteServer(out, port=0, isolated=True).start()
    yield site
    site.close()


@pytest.fixture(scope="module")
def mock():
    with MockProviderServer(api_key=KEY) as provider:
        yield provider


@pytest.fixture(autouse=True)
def fresh_mock(mock):
    mock.reset()
    yield


def open_page(browser, server, viewport=(1200, 860)) -> SitePage:
    return SitePage(browser, server.url, viewport=viewport).open()


def test_a_new_visitor_sees_what_the_small_model_can_do_and_examples_for_it(browser, server, mock):
    site = open_page(browser, server)
    page = site.page
    try:
        page.wait_for_selector("#composer-hint:has-text('In-browser model')", timeout=30_000)
        note = page.locator("#small-model-note")
        assert note.is_visible() and "one-step tasks" in note.text_content()
        small_cards = page.locator("#examples .example").all_text_contents()
        assert any("17 times 23" in card for card in small_cards), small_cards
        # Settings open on the chosen provider, not on the first radio; the note is there too.
        page.click("#open-settings")
        assert page.evaluate("document.activeElement.value") == "browser"
        assert "one-step tasks" in page.text_content("#provider-help")
        # The model menu: the bundled model first, known GGUFs with size and licence, downloaded only if chosen.
        options = page.locator("#model-choice option").all_text_contents()
        assert options[0].startswith("SmolLM2-135M Instruct: bundled") and len(options) >= 3
        assert all("MB" in option and "Apache-2.0" in option for option in options)
        page.select_option("#model-choice", index=1)
        assert page.input_value("#model-url").endswith(".gguf")
        assert "Downloaded from huggingface.co on the first run" in page.text_content("#model-choice-help")
        page.select_option("#model-choice", index=0)
        assert page.input_value("#model-url") == ""
        assert page.is_disabled("#delete-models")
        assert page.text_content("#delete-models-status") == "No model is kept in this browser."
        page.check("input[name=provider][value=openai]")
        page.fill("#base-url", mock.openai_base)
        page.fill("#model", "mock-coder")
        page.fill("#api-key", KEY)
        page.click("#settings button[type=submit]")
        assert not note.is_visible()
        cards = page.locator("#examples .example").all_text_contents()
        assert any("sieve" in card for card in cards) and not any("17 times 23" in card for card in cards)
        # An example card shows where the keyboard is: a visible outline, not just a border colour.
        page.focus("#task")
        page.keyboard.press("Shift+Tab")  # back from the task box: the last card (a starter template's)
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert page.evaluate("document.activeElement.classList.contains('example')") and outline == "solid"
        assert site.errors == []
    finally:
        site.close()


def test_feedback_while_the_model_is_silent_then_a_stop_during_the_last_answer_and_a_resume(browser, server, mock):
    site = open_page(browser, server)
    page = site.page
    try:
        site.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
        page.click("#open-settings")
        page.fill("#max-steps", "1")
        page.click("#settings button[type=submit]")
        # Step 1 fails; after the step limit the model is asked for a last answer, and is slow.
        mock.script({"text": code("print(undefined_name)"), "delay": 2.5}, {"text": "too late", "delay": 30})
        site.start("Find the answer.")
        status = page.locator(".step-live .step-status")
        status.filter(has_text="Waiting for the model…").wait_for(timeout=20_000)
        assert page.text_content("#runtime-status") == "Agent working…"
        screenshot(page, "first-visit-waiting")
        page.locator(".step-action.step-failed").wait_for(timeout=30_000)
        status.filter(has_text="Waiting for the model…").wait_for(timeout=20_000)  # the last-answer call
        page.click("#stop")
        site.wait_idle()  # well before the 30 s the slow answer would take
        turn = site.last_turn()
        assert turn.locator(".notice-warn", has_text="Stopped by you").count() == 1
        assert " 0 tokens" not in turn.locator(".run-summary").text_content()
        assert page.text_content("#runtime-status").startswith("Agent ready")
        assert len([r for r in mock.requests if r.method == "POST"]) == 2

        # Resume reaches the model, and the run ends with its answer.
        mock.reset()
        mock.script(code('final_answer("found after resuming")'))
        page.click("#open-settings")
        page.fill("#max-steps", "3")
        page.click("#settings button[type=submit]")
        page.click("#open-history")
        item = page.locator(".runs-item", has_text="Find the answer.").first
        item.locator(".runs-actions button", has_text="Resume").click()
        page.locator(".msg-agent .final-text", has_text="found after resuming").wait_for(timeout=60_000)
        assert len([r for r in mock.requests if r.method == "POST"]) == 1

        # The run's timeline names the model it used, not the one chosen since.
        site.configure(base_url=mock.openai_base, model="another-model", api_key=KEY)
        page.click("#open-history")
        page.locator(".runs-item", has_text="Find the answer.").first.locator(".runs-open").click()
        names = page.locator(".timeline-name", has_text="chat ")
        names.first.wait_for(timeout=30_000)
        assert {name.split(": ")[-1] for name in names.all_text_contents()} == {"chat mock-coder"}
        assert site.errors == []
    finally:
        site.close()


def test_a_key_pasted_with_a_placeholder_is_a_clear_local_error(browser, server, mock):
    site = open_page(browser, server)
    try:
        site.configure(base_url=mock.openai_base, model="mock-coder", api_key="sk-…")
        site.run("Hello?")
        error = site.last_turn().locator(".notice-error").text_content()
        assert "placeholder" in error and "U+2026" in error
        assert [r for r in mock.requests if r.method == "POST"] == []  # nothing sent, nothing retried
    finally:
        site.close()


def off_screen(page, selector: str) -> list[str]:
    """The visible controls under `selector` that stick out of the viewport (left or right)."""
    return page.evaluate("""(selector) => {
        const width = document.documentElement.clientWidth;
        return [...document.querySelectorAll(selector)].filter((node) => node.getClientRects().length)
          .map((node) => [node, node.getBoundingClientRect()])
          .filter(([, box]) => box.width > 0 && (box.left < -0.5 || box.right > width + 0.5))
          .map(([node, box]) => `${node.tagName}#${node.id || node.name || node.className} ${box.left}-${box.right}`);
    }""", selector)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


@pytest.mark.parametrize("width", [390, 320])
def test_every_view_works_on_a_phone(browser, server, mock, width):
    site = open_page(browser, server, viewport=(width, PHONE[1]))
    page = site.page
    try:
        assert no_horizontal_scroll(page)
        brand, pill = page.locator(".brand-name").bounding_box(), page.locator("#runtime-status").bounding_box()
        overlap = not (pill["x"] >= brand["x"] + brand["width"] or pill["y"] >= brand["y"] + brand["height"]
                       or brand["x"] >= pill["x"] + pill["width"] or brand["y"] >= pill["y"] + pill["height"])
        assert not overlap, (brand, pill)
        header = page.locator(".topbar").bounding_box()
        heading = page.locator("#welcome h1").bounding_box()
        assert heading["y"] >= header["y"] + header["height"], "the welcome heading is under the header"
        assert off_screen(page, ".topbar button, .topbar .pill, #examples .example, .composer button, #task") == []
        screenshot(page, f"phone-{width}-start")

        page.click("#open-settings")
        for provider in ("browser", "openai"):
            page.check(f"input[name=provider][value={provider}]")
            assert off_screen(page, "#settings input, #settings select, #settings button, #settings label") == []
            screenshot(page, f"phone-{width}-settings-{provider}")
        page.fill("#base-url", mock.openai_base)
        page.fill("#model", "mock-coder")
        page.fill("#api-key", KEY)
        page.click("#settings button[type=submit]")

        mock.script(code("print('a fairly long line of output ' * 6)"), code('final_answer("done on a phone")'))
        site.run("Print something, then answer.")
        assert site.last_turn().locator(".final-text").text_content() == "done on a phone"
        assert no_horizontal_scroll(page)
        screenshot(page, f"phone-{width}-answer")

        page.click("#open-history")
        page.locator(".runs-item").first.wait_for()
        assert off_screen(page, ".runs-dialog button, .runs-dialog input, .runs-dialog label") == []
        page.locator(".runs-item .runs-open").first.click()
        page.locator(".timeline-name").first.wait_for(timeout=30_000)
        assert off_screen(page, ".runs-dialog button, .runs-dialog input, .runs-dialog td, .runs-dialog th") == []
        assert no_horizontal_scroll(page)
        screenshot(page, f"phone-{width}-runs")
        assert site.errors == []
    finally:
        site.close()


EMBEDDING_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>A page on another origin</title>
<link rel="icon" href="data:,">
<script type="module" src="{site}/wasm-agent.js"></script>
<wasm-agent provider="openai" model="mock-coder" base-url="{base}" style="display:block;height:420px">
  The agent could not load from {site}: see docs/site.md, "Embedding from another origin".
</wasm-agent>
"""


def test_a_page_on_another_origin_embeds_the_agent_and_runs_a_task(browser, server, mock, tmp_path):
    from harness import StaticSite

    (tmp_path / "embed.html").write_text(EMBEDDING_PAGE.format(site=server.url, base=mock.openai_base))
    other = StaticSite({"/": tmp_path}, isolated=False)  # another port of 127.0.0.1: another origin
    site = SitePage(browser, other.url)
    page = site.page
    try:
        assert other.url != server.url
        page.goto(f"{other.url}/embed.html")
        page.evaluate("(key) => customElements.whenDefined('wasm-agent').then(() => "
                      "{ document.querySelector('wasm-agent').apiKey = key; })", KEY)
        page.wait_for_selector("wasm-agent .wa-status:text('Agent ready')", timeout=240_000)
        mock.script(code("final_answer(6 * 7)"))
        page.fill("wasm-agent textarea", "Six times seven?")
        page.click("wasm-agent button[type=submit]")
        page.wait_for_selector("wasm-agent .final-text", timeout=60_000)
        assert page.text_content("wasm-agent .final-text") == "42"
        assert page.evaluate("location.origin") == other.url
        screenshot(page, "embedded-from-another-origin")
        assert [e for e in site.errors if "service worker" not in e.lower()] == []
    finally:
        site.close()
        other.close()
