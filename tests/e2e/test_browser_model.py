"""The in-browser model in Debian's Chromium: the default GGUF from the site, wllama, Pyodide.

    python build/browser_model.py --fetch-only     # the 93 MB wheel, once (tests/run.sh does it)
    python -m pytest tests/e2e/test_browser_model.py

The page is tests/e2e/site/browser-model.html on a loopback site laid out like
dist/. The agent runs in the page's Pyodide with the in-process executor: the
page opens no sandbox iframe (the site's agent worker does), and this suite is
about the model. This box reads prompts at about 30 tokens/s and decodes at
about 20 (2 threads), slower when shared: prompts are short, steps few.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser_model_site import (
    REPO,
    SITE_CACHE,
    ModelSite,
    build_model_files,
    site_mounts,
)

GGUF = REPO / ".cache" / "browser-model" / "SmolLM2-135M-Instruct.Q4_1.gguf"
ASK = {"messages": [{"role": "user", "content": "Write Python code that prints the sum of 2 and 3."}],
       "stop": ["</code>", "```\n"], "maxTokens": 24}

AGENT_RUN = """
import json
from wasm_agent import CodeAgent
from wasm_agent.models.browser import BrowserModel
args = json.loads(args_json)
model = BrowserModel(max_tokens=args.get("max_tokens"))  # the handle publishBrowserModel() put on globalThis
agent = CodeAgent([], model, executor_type="inprocess", max_steps=args["max_steps"])
result = await agent.arun(args["task"], return_full_result=True)
json.dumps({
    "state": str(getattr(result.state, "value", result.state)),
    "output": repr(result.output),
    "prompt_variant": model.prompt_variant,
    "steps": [{"model_output": s.model_output, "code": s.code_action, "observations": s.observations,
               "error": type(s.error).__name__ if s.error else None, "message": s.error.message if s.error else None,
               "usage": [s.token_usage.input_tokens, s.token_usage.output_tokens] if s.token_usage else None}
              for s in agent.memory.steps if type(s).__name__ == "ActionStep"],
    "first_input": [m.role.value for m in agent.memory.steps[1].model_input_messages]
                   if len(agent.memory.steps) > 1 else [],
    "last_timings": model.last_timings,
})
"""


@pytest.fixture(scope="module")
def model_files() -> Path:
    if not GGUF.is_file():
        pytest.skip("the default weights are not cached: run `python build/browser_model.py --fetch-only`")
    if not (REPO / "node_modules" / "@wllama" / "wllama" / "esm" / "index.js").is_file():
        pytest.skip("run `npm ci` first: node_modules/@wllama is missing")
    return build_model_files(SITE_CACHE)


@pytest.fixture(scope="module")
def site(model_files, wheel):
    served = ModelSite(site_mounts(model_files, wheel), isolated=True)
    yield served
    served.close()


@pytest.fixture(scope="module")
def model_page(browser, site):
    """One page with the default model loaded (the load is the expensive part): shared by the tests in order."""
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(f"{site.url}/test/browser-model.html")
    page.wait_for_function("window.modelTest !== undefined")
    page.info = page.evaluate("modelTest.load()")
    page.console = console
    yield page
    context.close()


def test_default_model_loads_from_the_site_with_progress_and_two_threads(model_page, site):
    info = model_page.info
    assert info["name"].startswith("SmolLM2-135M") and info["promptVariant"] == "small"
    assert info["isolated"] and info["threads"] == 2 and info["multithread"]
    progress = model_page.evaluate("modelTest.progress")
    downloads = [p for p in progress if p["phase"] == "download"]
    assert downloads and downloads[-1]["loaded"] == downloads[-1]["total"] == GGUF.stat().st_size
    assert progress[-1]["phase"] == "ready"
    assert site.model_requests().count("GET /models/SmolLM2-135M-Instruct.Q4_1.gguf") == 1


def test_generation_is_deterministic_at_temperature_0_and_reuses_the_kv_cache(model_page):
    first = model_page.evaluate("(request) => modelTest.generate(request)", ASK)
    second = model_page.evaluate("(request) => modelTest.generate(request)", ASK)
    assert first["text"] and first["text"] == second["text"] == first["joined"]
    assert first["deltas"] > 1  # streamed, token by token
    assert "</code>" not in first["text"]
    assert first["usage"]["outputTokens"] == second["usage"]["outputTokens"] > 0
    assert first["usage"]["inputTokens"] == second["usage"]["inputTokens"] > 10
    # The second call found the same prompt in the KV cache: all but the last token were not processed again.
    assert second["timings"]["cache_n"] >= second["usage"]["inputTokens"] - 1
    assert second["timings"]["prompt_n"] <= 1


def test_code_agent_completes_a_step_on_the_in_browser_model(model_page, wheel):
    model_page.evaluate("(wheel) => window.pythonStarted ??= modelTest.startPython(wheel)", f"/wheels/{wheel.name}")
    run = model_page.evaluate("([code, args]) => modelTest.python(code, args)",
                              [AGENT_RUN, {"task": "What is 12 + 30?", "max_steps": 2, "max_tokens": 64}])
    assert run["prompt_variant"] == "small"
    # The closest worked example (arithmetic) as chat turns, then the task.
    assert run["first_input"] == ["system", "user", "assistant", "user"]
    steps = run["steps"]
    assert steps, run
    first = steps[0]
    # A full step: the model wrote code, it was parsed and executed, and the result was observed.
    assert first["code"], first
    assert first["observations"] is not None or first["error"] == "AgentExecutionError", first
    assert first["usage"] and first["usage"][1] > 0
    assert run["state"] in ("success", "max_steps_error"), run
    if len(steps) > 1 and run["last_timings"]:
        # Step 2 extends step 1's messages: most of its prompt came from the KV cache.
        assert run["last_timings"]["cache_n"] > run["last_timings"]["prompt_n"], run["last_timings"]


def test_the_small_model_answers_in_the_agents_format_or_gives_up_plainly_within_its_budget(model_page, wheel):
    """The real model with the small defaults: the grammar reaches llama.cpp (every step is a thought and
    a code block of one final_answer line), and the run ends in an answer or an honest give-up."""
    import re
    import time

    model_page.evaluate("(wheel) => window.pythonStarted ??= modelTest.startPython(wheel)", f"/wheels/{wheel.name}")
    started = time.monotonic()
    run = model_page.evaluate("([code, args]) => modelTest.python(code, args)",
                              [AGENT_RUN, {"task": "What is 7 times 8?", "max_steps": 3}])
    elapsed = time.monotonic() - started
    steps = [step for step in run["steps"] if step["model_output"]]
    assert steps, run
    shape = re.compile(r"Thought: [^\n<]{1,60}\n<code>\n(?:from datetime import date\n)?final_answer\([^\n`]*\n</code>$")
    for step in steps:
        assert shape.match(step["model_output"]), step["model_output"]
        assert step["usage"][1] <= 200
    if run["state"] == "success":
        assert run["output"] in ("56", "56.0"), run
    else:
        assert run["state"] == "max_steps_error"
        assert run["steps"][-1]["message"].startswith("No answer found"), run
    print(f"small model: {run['state']} {run['output']} in {elapsed:.0f} s, {len(steps)} step(s)")


def test_offline_reload_loads_the_cached_weights_without_a_request(model_page, site):
    before = model_page.evaluate("(request) => modelTest.generate(request)", ASK)["text"]
    site.offline_models = True
    requests_before = len(site.model_requests())
    try:
        model_page.reload()
        model_page.wait_for_function("window.modelTest !== undefined")
        info = model_page.evaluate("modelTest.load()")
        after = model_page.evaluate("(request) => modelTest.generate(request)", ASK)["text"]
    finally:
        site.offline_models = False
    assert info["name"].startswith("SmolLM2-135M")
    assert site.model_requests()[requests_before:] == []  # from OPFS: not even a HEAD
    assert after == before


def test_forgetting_a_cached_model_removes_it_from_opfs(model_page):
    url = model_page.info["url"]
    assert model_page.evaluate("modelTest.cachedModels()") == [url]
    model_page.evaluate("(url) => modelTest.clearCachedModels(url)", url)
    assert model_page.evaluate("modelTest.cachedModels()") == []


def test_plain_page_runs_single_threaded_on_a_picked_file(browser, model_files, wheel):
    plain = ModelSite(site_mounts(model_files, wheel), isolated=False)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{plain.url}/test/browser-model.html")
        page.wait_for_function("window.modelTest !== undefined")
        info = page.evaluate("modelTest.loadFile('/models/SmolLM2-135M-Instruct.Q4_1.gguf')")
        assert not info["isolated"] and info["threads"] == 1
        assert info["name"] == "picked.gguf" and info["url"] is None
        assert info["promptVariant"] is None  # a user's model gets the full prompts unless told otherwise
        answer = page.evaluate("(request) => modelTest.generate(request)", {**ASK, "maxTokens": 6})
        assert answer["usage"]["outputTokens"] > 0
        assert page.evaluate("modelTest.cachedModels()") == []  # a picked file is read, not copied to OPFS
    finally:
        context.close()
        plain.close()
