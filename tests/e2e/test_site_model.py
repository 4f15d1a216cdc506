"""The in-browser model in the built site, in Debian's Chromium: a new visitor's first run on the
bundled model with no key, weights picked from the device, a model download that fails, and a small
model that never answers (a scripted wllama). The site and its servers are conftest.py's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from site_pages import KEY, SitePage, SiteServer, screenshot


def test_in_browser_model_runs_a_step_with_no_key(browser, site_servers, site_dist):
    if not json.loads((site_dist / "build.json").read_text()).get("browserModel"):
        pytest.skip("this build ships no in-browser model (build/browser_model.py could not fetch it)")
    page = SitePage(browser, site_servers["isolated"].url).open()
    try:
        # A new visitor starts on the bundled model: the composer says so, and settings show it chosen.
        page.page.wait_for_selector("#composer-hint:has-text('In-browser model')", timeout=30_000)
        page.page.click("#open-settings")
        assert page.page.is_checked("input[name=provider][value=browser]")
        page.page.fill("#max-steps", "2")
        page.page.click("#settings button[type=submit]")
        page.start("What is 12 + 30?")
        page.page.wait_for_selector("#progress-text:has-text('in-browser model')", timeout=30_000)
        # Before its first token the model reads its prompt (seconds here): the step says how far it is.
        page.page.locator(".step-live .step-status", has_text="Reading the prompt…").wait_for(timeout=120_000)
        assert page.page.text_content("#runtime-status") == "Agent working…"
        page.page.locator(".msg-agent").nth(page.turns).and_(
            page.page.locator("[aria-busy=false]")).wait_for(timeout=180_000)
        turn = page.last_turn()
        assert turn.locator(".step-action pre.code").count() >= 1  # it wrote code, and the sandbox ran it
        assert turn.locator(".final-answer").count() + turn.locator(".notice-warn").count() == 1
        screenshot(page.page, "in-browser-model")
        # Its weights are kept in this browser; the settings say how much, and delete them.
        page.page.click("#open-settings")
        status = page.page.locator("#delete-models-status")
        status.filter(has_text="1 model kept in this browser: 98 MB.").wait_for(timeout=10_000)
        page.page.click("#delete-models")
        status.filter(has_text="No model is kept in this browser. Deleted: 98 MB freed.").wait_for(timeout=10_000)
        assert page.errors == []
    finally:
        page.close()


def test_a_gguf_picked_from_the_device_is_the_model_the_agent_loads(browser, site_servers, site_dist):
    weights = sorted((Path(__file__).resolve().parents[2] / ".cache" / "browser-model").glob("*.gguf"))
    assert weights, "setup.sh fetches the default model's weights (python build/browser_model.py --fetch-only)"
    server = site_servers["isolated"]
    page = SitePage(browser, server.url).open()
    try:
        page.page.click("#open-settings")
        page.page.check("input[name=provider][value=browser]")
        page.page.set_input_files("#model-file", str(weights[0]))  # the file picker: a model the user has
        page.page.click("#settings button[type=submit]")
        served_before = len(server.requests)
        page.start("What is 12 + 30?")
        # The model loads (from the file), then the agent's first step starts on it.
        page.page.wait_for_selector("#progress-text:has-text('in-browser model')", timeout=60_000)
        # Its first step has begun once the model writes (the step's card shows before, while it waits).
        page.page.locator(".msg-agent").nth(page.turns).locator(".step-thought:not(:empty), pre.code").first.wait_for(
            timeout=150_000)
        page.page.click("#stop")
        page.page.locator(".msg-agent").nth(page.turns).and_(
            page.page.locator("[aria-busy=false]")).wait_for(timeout=60_000)
        screenshot(page.page, "in-browser-model-from-file")
        assert not [path for path in server.requests[served_before:] if path.endswith(".gguf")]  # read from the file
        assert page.errors == []
    finally:
        page.close()


def test_a_model_download_that_fails_says_so_and_the_page_goes_on(browser, site_servers, mock):
    mock.reset()  # no answers left from an earlier test of the session
    server = site_servers["isolated"]
    page = SitePage(browser, server.url).open()
    try:
        # The menu's models come from their upstream repos on Hugging Face, by the repos' own file names.
        urls = page.page.eval_on_selector_all("#model-choice option", "options => options.map(o => o.value)")
        assert urls[0] == ""  # the bundled model
        assert urls[1:] and all(re.fullmatch(
            r"https://huggingface\.co/Qwen/Qwen2\.5-Coder-(\d\.\d)B-Instruct-GGUF/resolve/main/"
            r"qwen2\.5-coder-\1b-instruct-q4_k_m\.gguf", url) for url in urls[1:]), urls
        # A GGUF URL that answers 404 (a moved or mistyped model): the run says what failed and where.
        page.page.click("#open-settings")
        page.page.check("input[name=provider][value=browser]")
        missing = f"{server.url}/models/no-such-model.gguf"
        page.page.fill("#model-url", missing)
        page.page.click("#settings button[type=submit]")
        page.run("What is 2 + 2?")
        error = page.last_turn().locator(".notice-error")
        assert "did not load" in error.text_content() and missing in error.text_content()
        assert "404" in error.text_content() and "Check the model's URL and the network" in error.text_content()
        screenshot(page.page, "model-download-failed")
        # Nothing is stuck: the next task runs on another model.
        page.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
        mock.script("Thought: Add.\n<code>final_answer(2 + 2)</code>")
        page.run("What is 2 + 2?")
        assert page.last_turn().locator(".final-text").text_content() == "4"
        page.errors = [e for e in page.errors if "404" not in e]  # the missing model file itself
        assert page.errors == []
    finally:
        page.close()


def test_a_small_model_that_never_answers_ends_at_its_step_limit_with_a_plain_message(browser, site_dist, tmp_path):
    # The site as built, with wllama replaced by a scripted one whose model prints and never calls final_answer.
    site = tmp_path / "dist"
    shutil.copytree(site_dist, site, copy_function=os.link)
    (site / "wllama" / "index.js").unlink()  # a hard link into the shared build: replace, never write through
    shutil.copy(Path(__file__).parent / "site" / "scripted-wllama.js", site / "wllama" / "index.js")
    server = SiteServer(site, port=0, isolated=True).start()
    page = SitePage(browser, server.url).open()
    try:
        page.page.wait_for_selector("#composer-hint:has-text('In-browser model')", timeout=30_000)
        for _ in range(2):  # and again: the page is usable after giving up
            page.run("What is 2 + 2?")
            turn = page.last_turn()
            notice = turn.locator(".notice-warn")
            assert notice.locator("strong").text_content() == "No answer found"
            assert "3 steps gave no answer, so the agent stopped rather than guess" in notice.text_content()
            assert turn.locator(".step-action pre.code").count() == 3  # the small model's default: 3 steps
            assert turn.locator(".final-answer").count() == 0  # no "best answer" made up after the last step
            assert turn.locator(".run-summary").text_content().startswith("3 steps")
            assert page.page.is_enabled("#run") and page.page.text_content("#runtime-status") != "Agent working…"
        screenshot(page.page, "small-model-gives-up")
        assert page.errors == []
    finally:
        page.close()
        server.close()
