"""The static site end to end: the built dist/ in Debian's Chromium, with and without
COOP/COEP, against the loopback OpenAI-compatible mock (scripted answers, CORS).

What a user sees: a task goes through code, a Python tool, a JS tool and a final
answer; Stop ends an endless loop and the next task runs; a provider error is a
clear message; the site reloads offline; the embedding page works; no console errors.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from site_pages import KEY, SitePage, SiteServer, build_site, screenshot

MODES = ["isolated", "plain"]

CODE_STEP = """Thought: I will ask the browser for the time and describe the numbers with the tool.
<code>
now = current_time()
print("weekday:", now["weekday"])
stats = describe_numbers(numbers=[2, 4, 4, 4, 5, 5, 7, 9])
print("mean:", stats["mean"], "stdev:", round(stats["stdev"], 3))
</code>"""
FINAL_STEP = """Thought: I have both; I can answer.
<code>
final_answer(f"The mean is {stats['mean']} and today is {now['weekday']}.")
</code>"""
ENDLESS_STEP = """Thought: Let me count forever.
<code>
n = 0
while True:
    n += 1
</code>"""


@pytest.fixture(scope="module", params=MODES)
def site(request, browser, site_servers, mock):
    """The main page, ready, with the mock configured as an OpenAI-compatible provider."""
    page = SitePage(browser, site_servers[request.param].url).open()
    page.mode = request.param
    screenshot(page.page, f"{page.mode}-ready")
    page.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
    yield page
    page.close()


@pytest.fixture(autouse=True)
def fresh_mock(mock):
    mock.reset()
    yield


def test_page_is_ready_with_the_sandbox_in_the_right_mode(site):
    status = site.page.text_content("#runtime-status")
    assert status.startswith("Agent ready")
    assert ("isolated" if site.mode == "isolated" else "JSPI") in status
    assert site.page.evaluate("crossOriginIsolated") is (site.mode == "isolated")


def test_task_runs_code_python_tool_js_tool_and_final_answer(site, mock):
    mock.script(CODE_STEP, FINAL_STEP)
    site.run("Describe 2, 4, 4, 4, 5, 5, 7, 9 and tell me the weekday.")
    turn = site.last_turn()
    tools = turn.locator(".tool-use").all_text_contents()
    assert any(text.startswith("current_time()") for text in tools), tools
    assert any(text.startswith("describe_numbers(numbers=[2,4,4,4,5,5,7,9])") and '"mean":5,' in text for text in tools), tools
    assert "mean: 5.0 stdev: 2.138" in turn.locator(".observation-text").first.text_content()
    assert turn.locator("pre.code .tok-call", has_text="describe_numbers").count() == 1  # highlighted
    answer = turn.locator(".final-text").text_content()
    assert answer.startswith("The mean is 5.0 and today is ") and answer.rstrip(".").split()[-1].endswith("day")
    assert turn.locator(".step-meta .chip", has_text=" in · ").count() == 2  # tokens per step
    assert "2 steps" in turn.locator(".run-summary").text_content()
    # The key went to the provider only, and the model saw the first step's observation.
    posts = [r for r in mock.requests if r.method == "POST"]
    assert [r.headers.get("authorization") for r in posts] == [f"Bearer {KEY}"] * 2
    second = json.dumps(posts[1].json["messages"])
    assert "mean: 5.0 stdev: 2.138" in second
    screenshot(site.page, f"{site.mode}-final-answer")
    assert site.errors == []


def test_stop_interrupts_an_endless_loop_and_the_next_task_runs(site, mock):
    mock.script(ENDLESS_STEP)
    site.start("Count forever.")
    site.page.wait_for_selector(".step-live pre.code", timeout=30_000)
    site.page.wait_for_timeout(700)  # the loop is running in the sandbox now
    screenshot(site.page, f"{site.mode}-running")
    site.page.click("#stop")
    site.wait_idle()
    turn = site.last_turn()
    assert turn.locator(".notice-warn", has_text="Stopped by you").count() == 1
    mock.script('Thought: Still here.\n<code>final_answer("still alive")</code>')
    site.run("Are you still there?")
    assert site.last_turn().locator(".final-text").text_content() == "still alive"
    screenshot(site.page, f"{site.mode}-after-stop")
    assert site.errors == []


def test_provider_error_is_a_clear_message(site, mock):
    mock.script({"status": 401, "error": "Invalid API key."})
    site.run("This will fail.")
    notice = site.last_turn().locator(".notice-error")
    assert notice.count() == 1
    text = notice.text_content()
    assert "The run failed" in text and "401" in text and "Invalid API key." in text
    assert "Model settings" in text and "environment variable" not in text  # what a visitor can change
    screenshot(site.page, f"{site.mode}-provider-error")
    assert site.errors == []


def test_tool_calling_agent_calls_a_js_tool_and_answers(site, mock):
    site.page.click("#open-settings")
    site.page.select_option("#agent-type", "toolcalling")
    site.page.click("#settings button[type=submit]")
    try:
        mock.script({"tool_calls": [{"id": "c1", "name": "current_time", "arguments": {}}]},
                    {"tool_calls": [{"id": "c2", "name": "final_answer", "arguments": {"answer": "It is a weekday."}}]})
        site.run("What time is it?")
        turn = site.last_turn()
        assert turn.locator(".tool-use", has_text="current_time() → {").count() == 1
        assert "weekday" in turn.locator(".observation-text").first.text_content()
        screenshot(site.page, f"{site.mode}-tool-calling")
        assert turn.locator(".final-text").text_content() == "It is a weekday."
        assert site.errors == []
    finally:
        site.page.click("#open-settings")
        site.page.select_option("#agent-type", "code")
        site.page.click("#settings button[type=submit]")


def test_reloads_and_runs_offline_after_the_first_visit(browser, site_servers):
    server = site_servers["isolated"]
    page = SitePage(browser, server.url).open()
    try:
        assert page.page.evaluate("navigator.serviceWorker.controller !== null")
        page.context.set_offline(True)
        before = len(server.requests)
        page.page.reload()
        page.wait_ready()
        # Everything came from the service worker's cache. (The browser's own update check of sw.js
        # bypasses Playwright's offline emulation; offline for real, it fails and changes nothing.)
        assert [path for path in server.requests[before:] if path != "/sw.js"] == []
        result = page.page.evaluate("""async () => {
            const { createAgent } = await import("./wasm-agent.js");
            const agent = await createAgent({ model: { provider: "scripted", responses: [
                "Thought: offline.\\n<code>final_answer(sum(range(10)))</code>"] } });
            return agent.run("Add 0..9 offline.");
        }""")
        assert result["output"] == 45 and result["state"] == "success"
        screenshot(page.page, "offline-reload")
        assert page.errors == []
    finally:
        page.close()


def test_an_agent_goes_on_after_its_code_exhausts_the_sandboxs_memory(browser, site_servers):
    """Generated code that fills the sandbox's JS heap ends the sandbox frame's process. The page
    lives on (its own process), opens a new frame, and the agent's next step runs there."""
    page = SitePage(browser, site_servers["plain"].url).open()
    # Playwright stops evaluating in a page once any of its processes ends; DevTools still reaches it.
    cdp = page.context.new_cdp_session(page.page)
    try:
        answer = cdp.send("Runtime.evaluate", {"awaitPromise": True, "returnByValue": True, "expression": """(async () => {
            const { createAgent } = await import("./wasm-agent.js");
            const agent = await createAgent({ model: { provider: "scripted", responses: [
                "Thought: hoard.\\n<code>import js\\nhoard = []\\nwhile True:\\n    hoard.append(js.Array.new(2**25).fill(1.5))</code>",
                "Thought: again, lighter.\\n<code>final_answer(sum(range(5)))</code>"] } });
            const events = [];
            for await (const event of agent.stream("Fill the memory, then add 0..4.")) events.push(event);
            return { events: JSON.stringify(events), result: agent.lastResult,
                     frames: document.querySelectorAll("iframe").length };
        })()"""})
        assert "exceptionDetails" not in answer, answer
        value = answer["result"]["value"]
        assert value["result"]["output"] == 10 and value["result"]["state"] == "success", value["result"]
        assert "stopped answering" in value["events"], value["events"][:2000]
        assert value["frames"] == 1
        assert page.errors == []
    finally:
        page.close()


HALF_TOOL = '''
from wasm_agent import tool

@tool
def half(n: int) -> float:
    """Half of a number.

    Args:
        n: The number.
    """
    return n / 2
'''


def test_floats_and_tuples_keep_their_type_between_python_tools_and_the_sandbox(browser, site_servers):
    """A Python tool in the agent worker returns 5.0; the value passes through JavaScript on its way
    to the sandbox's Python, and arrives as 5.0, not 5."""
    page = SitePage(browser, site_servers["isolated"].url).open()
    try:
        result = page.page.evaluate("""async (tool) => {
            const { createAgent } = await import("./wasm-agent.js");
            const agent = await createAgent({ pythonTools: [tool], model: { provider: "scripted", responses: [
                "<code>x = half(10)\\nprint(repr(x), repr((1, x)))</code>",
                "<code>final_answer(type(x).__name__)</code>"] } });
            const events = [];
            for await (const event of agent.stream("Halve 10")) events.push(event);
            return { events: JSON.stringify(events), output: agent.lastResult.output };
        }""", HALF_TOOL)
        assert result["output"] == "float"
        assert "5.0 (1, 5.0)" in result["events"]
        assert page.errors == []
    finally:
        page.close()


def test_two_code_agents_on_a_page_run_at_once_each_in_its_own_sandbox(browser, site_servers):
    """Like smolagents agents, each with its own executor: variables, tools and runs do not mix."""
    page = SitePage(browser, site_servers["plain"].url).open()
    try:
        result = page.page.evaluate("""async () => {
            const { createAgent } = await import("./wasm-agent.js");
            const make = (name) => createAgent({
                tools: [{ name: "who", description: "Who answers, after a pause.", outputType: "string",
                          fn: () => new Promise((resolve) => setTimeout(() => resolve(`tool of ${name}`), 400)) }],
                model: { provider: "scripted", responses: [
                    `<code>mine = "${name}"\\nheard = who()</code>`, "<code>final_answer([mine, heard])</code>"] } });
            const [a, b] = await Promise.all([make("A"), make("B")]); // made at once: each its own sandbox
            const frames = document.querySelectorAll("iframe").length;
            const [ra, rb] = await Promise.all([a.run("Say who you are"), b.run("Say who you are")]);
            await b.close();
            return { a: ra.output, b: rb.output, frames, framesAfterClose: document.querySelectorAll("iframe").length };
        }""")
        assert result["a"] == ["A", "tool of A"] and result["b"] == ["B", "tool of B"], result
        assert result["frames"] == 2 and result["framesAfterClose"] == 1
        assert page.errors == []
    finally:
        page.close()


def test_closing_an_agent_mid_run_stops_it_before_its_sandbox_serves_another(browser, site_servers):
    page = SitePage(browser, site_servers["isolated"].url).open()
    try:
        result = page.page.evaluate("""async () => {
            const { createAgent } = await import("./wasm-agent.js");
            const looping = await createAgent({ model: { provider: "scripted", responses: [
                "<code>spent = 0\\nwhile True:\\n    spent += 1</code>"] } });
            const pending = looping.run("Loop");
            await new Promise((resolve) => setTimeout(resolve, 1500));
            await looping.close();
            const stopped = await pending;
            const next = await createAgent({ model: { provider: "scripted", responses: [
                "<code>final_answer('spent' in globals())</code>"] } });
            const answer = await next.run("Is the old variable there?");
            return { stopped: stopped.state, answer: answer.output, frames: document.querySelectorAll("iframe").length };
        }""")
        assert result == {"stopped": "interrupted", "answer": False, "frames": 1}, result
        assert page.errors == []
    finally:
        page.close()


def test_a_new_build_replaces_the_cached_one(browser, site_dist, tmp_path):
    import shutil

    served = tmp_path / "served"
    shutil.copytree(site_dist, served)
    server = SiteServer(served, port=0, isolated=True).start()
    page = SitePage(browser, server.url).open()
    try:
        # A "new build": another index.html and another version in build.json.
        index = served / "index.html"
        index.write_text(index.read_text().replace("<title>", "<title>v2 "))
        manifest = json.loads((served / "build.json").read_text())
        manifest["version"] += "-v2"
        manifest["files"]["index.html"] = index.stat().st_size
        (served / "build.json").write_text(json.dumps(manifest))
        page.page.reload()  # still the old build; its service worker is replaced meanwhile
        page.wait_ready()
        page.page.wait_for_function("navigator.serviceWorker.controller?.scriptURL.endsWith('-v2')", timeout=60_000)
        page.page.reload()
        page.wait_ready()
        assert page.page.title().startswith("v2 ")
        caches = page.page.evaluate("caches.keys()")
        assert caches == [f"wasm-agent-{manifest['version']}"]  # the old cache is gone
        assert page.errors == []
    finally:
        page.close()
        server.close()


def test_without_a_sandbox_the_page_says_code_cannot_run(browser, site_dist, tmp_path, mock):
    import shutil

    broken = tmp_path / "no-sandbox"
    shutil.copytree(site_dist, broken)
    (broken / "sandbox" / "sandbox.html").unlink()  # the sandbox cannot start
    server = SiteServer(broken, port=0, isolated=True).start()
    page = SitePage(browser, server.url).open()
    try:
        assert page.page.text_content("#runtime-status") == "Code execution unavailable"
        assert "Generated code never runs outside the sandbox" in page.page.text_content("#model-notice")
        page.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
        page.run("Compute something.")
        assert "Code execution is unavailable" in page.last_turn().locator(".notice-error").text_content()
        assert [r for r in mock.requests if r.method == "POST"] == []  # no model call, no code run anywhere
        screenshot(page.page, "no-sandbox")
        page.errors = [error for error in page.errors if "404" not in error]  # the missing sandbox.html itself
        assert page.errors == []
    finally:
        page.close()
        server.close()


def test_embedding_page_runs_a_task(browser, site_servers, mock):
    mock.script('Thought: Convert.\n<code>final_answer(round((350 - 32) * 5 / 9))</code>')
    page = SitePage(browser, site_servers["isolated"].url)
    try:
        page.page.goto(page.url + "/example.html")
        page.page.evaluate("""([baseUrl, key]) => {
            const element = document.querySelector("wasm-agent");
            element.setAttribute("base-url", baseUrl);
            element.apiKey = key;
        }""", [mock.openai_base, KEY])
        page.page.wait_for_selector("wasm-agent .wa-status:text('Agent ready')", timeout=240_000)
        page.page.fill("wasm-agent textarea", "350 °F in °C?")
        page.page.click("wasm-agent button[type=submit]")
        page.page.wait_for_selector("wasm-agent .final-text", timeout=60_000)
        assert page.page.text_content("wasm-agent .final-text") == "177"
        assert [r.json["model"] for r in mock.requests if r.method == "POST"] == ["qwen2.5-coder:7b"]
        screenshot(page.page, "embedded")
        # Removed from the page, the element closes its agent: the next code agent reuses its sandbox.
        frames = page.page.evaluate("""async () => {
            document.querySelector("wasm-agent").remove();
            await new Promise((resolve) => setTimeout(resolve, 500));
            const { createAgent } = await import("./wasm-agent.js");
            await createAgent({ model: { provider: "scripted", responses: [] } });
            return document.querySelectorAll("iframe").length;
        }""")
        assert frames == 1
        assert page.errors == []
    finally:
        page.close()


def test_additional_imports_come_from_the_sites_own_wheels(browser, tmp_path):
    """A wheel file and a requirement from PyPI (cached by setup.sh: tests/e2e/wheels.txt) whose
    dependency nobody asked for: the agent installs the closure, and the code gets the right result."""
    wheel = tmp_path / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tinypkg/__init__.py", "ANSWER = 42\n")
        archive.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
        archive.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("tinypkg-1.0.dist-info/RECORD", "")
    requirements = [line for line in (Path(__file__).parent / "wheels.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
    out = tmp_path / "dist"
    build_site(out, snapshot=False, extra_wheels=(wheel, *requirements), offline=True, log=lambda *_: None)
    lock = json.loads((out / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    assert lock["python-dateutil"]["depends"] == ["six"] and lock["python-dateutil"]["imports"] == ["dateutil"]
    assert lock["six"]["imports"] == ["six"]
    server = SiteServer(out, port=0, isolated=True).start()
    page = SitePage(browser, server.url).open()
    code = ("from dateutil.relativedelta import relativedelta\nimport datetime, tinypkg\n"
            "final_answer([str(datetime.date(2024, 1, 31) + relativedelta(months=1)), tinypkg.ANSWER])")
    try:
        outcome = page.page.evaluate("""async (code) => {
            const { createAgent } = await import("./wasm-agent.js");
            const agent = await createAgent({ additionalAuthorizedImports: ["dateutil.relativedelta", "tinypkg", "json"],
                model: { provider: "scripted", responses: [`<code>${code}</code>`] } });
            const result = await agent.run("What is a month after 2024-01-31?");
            let missing = null;
            await createAgent({ additionalAuthorizedImports: ["pandas"], model: { provider: "scripted", responses: [] } })
                .catch((error) => { missing = error.message; });
            return { output: result.output, missing };
        }""", code)
        assert outcome["output"] == ["2024-02-29", 42]
        assert outcome["missing"].startswith("pandas: no wheel in this site provides it")
        assert page.errors == []
    finally:
        page.close()
        server.close()


@pytest.mark.parametrize("mode", MODES)
def test_an_agent_made_after_close_gets_a_sandbox_no_earlier_code_touched(browser, site_servers, mode):
    """The page's first sandbox serves the next agent (createAgent after close(), a <wasm-agent> put back,
    new Model settings): it is a fresh worker, so what the earlier agent's code changed is gone and its
    timers call nothing of the next agent's."""
    page = SitePage(browser, site_servers[mode].url).open()
    try:
        result = page.page.evaluate("""async () => {
            const { createAgent } = await import("./wasm-agent.js");
            const calls = { first: [], next: [] }; // each agent's own tool, recording its own calls
            const tools = (who) => [{ name: "record", description: "Record a text.", outputType: "string",
                                      inputs: { text: { type: "string", description: "what" } },
                                      fn: ({ text }) => { calls[who].push(text); return text; } }];
            const tamper = "leftover = 1\\nimport builtins, js\\nfrom pyodide.ffi import create_proxy\\n"
              + "builtins.sorted = lambda *a, **k: 'forged'\\n"
              + "def steal():\\n    try:\\n        record('stolen')\\n    except Exception:\\n        pass\\n"
              + "js.setInterval(create_proxy(steal), 1)\\nfinal_answer('first')";
            const first = await createAgent({ tools: tools("first"), model: { provider: "scripted", responses: [`<code>${tamper}</code>`] } });
            const one = await first.run("Tamper");
            await first.close();
            await new Promise((resolve) => setTimeout(resolve, 500));
            const next = await createAgent({ tools: tools("next"), model: { provider: "scripted", responses: [
                "<code>final_answer([record('legit'), sorted([2, 1]), 'leftover' in dir()])</code>"] } });
            const two = await next.run("Check");
            await next.close();
            return { one: one.output, two: two.output, calls: calls.next };
        }""")
        # The first agent's code may call its own tool while its step runs; never the next agent's.
        assert result == {"one": "first", "two": ["legit", [1, 2], False], "calls": ["legit"]}, result
        assert page.errors == []
    finally:
        page.close()


# Generated code that makes the sandbox's worker send the page malformed messages: the sandbox core's next
# frame (the step's result) serializes as a message of an unknown kind, and the code posts junk of its own.
MALFORMED_MESSAGES_STEP = """import js
from pyodide.ffi import create_proxy, to_js
plain = lambda value: to_js(value, dict_converter=js.Object.fromEntries)
deep = js.Array.new()
for _ in range(100_000):
    deep = js.Array.of(deep)
for junk in [deep, plain({'k': 'guess', 'm': '{"type": "crashed"}'}), 12]:
    try:
        js.postMessage(junk)
    except Exception:
        pass  # too deep to send at all
hijacked = [0]
def forged_json(this, key):
    hijacked[0] += 1
    return plain({'type': 'spell', 'id': 'x' * 1000}) if hijacked[0] == 1 else this
js.Object.defineProperty(js.Object.prototype, 'toJSON',
                         plain({'value': create_proxy(forged_json, capture_this=True), 'configurable': True}))"""


def test_an_agent_finishes_its_run_after_its_sandbox_sends_malformed_messages(site):
    """The step whose code made the sandbox's worker send malformed messages fails with an observation that
    says so; the agent worker and the page live, and the run ends with its answer."""
    result = site.page.evaluate("""async (codes) => {
        const { createAgent } = await import("./wasm-agent.js");
        const agent = await createAgent({ model: { provider: "scripted",
                                                   responses: codes.map((code) => `<code>${code}</code>`) } });
        const events = [];
        try {
            for await (const event of agent.stream("Send junk, then answer")) events.push(event);
        } finally {
            await agent.close();
        }
        const steps = events.filter((event) => event.type === "step");
        return { output: events.at(-1).output, state: events.at(-1).state,
                 errors: steps.map((step) => step.error?.message ?? null) };
    }""", [MALFORMED_MESSAGES_STEP, "final_answer(40 + 2)"])
    assert (result["output"], result["state"]) == (42, "success"), result
    first, second = result["errors"]
    assert first and re.search(r"sandbox (crashed|sent a message that could not be read)", first), first
    assert second is None
    assert site.errors == []


def test_lone_surrogates_from_the_sandbox_do_not_end_the_run(site):
    """JSON carries a lone surrogate ("\\ud800"), which code can print, return and pass to a tool: the agent worker
    and the page take it, and the run goes on to its answer."""
    result = site.page.evaluate("""async (codes) => {
        const { createAgent } = await import("./wasm-agent.js");
        const calls = [];
        const agent = await createAgent({ model: { provider: "scripted", responses: codes.map((code) => `<code>${code}</code>`) },
            tools: [{ name: "record", description: "Record a text.", outputType: "string",
                      inputs: { text: { type: "string", description: "what" } },
                      fn: ({ text }) => { calls.push(text.length); return text; } }] });
        try {
            const run = await agent.run("Surrogates");
            return { output: run.output, state: run.state, calls };
        } finally {
            await agent.close();
        }
    }""", ["print('a\\ud800b')\n'\\udfff'", "final_answer(record('c\\udc00d'))"])
    assert (result["state"], result["calls"]) == ("success", [3]), result
    assert len(result["output"]) == 3 and result["output"][0] == "c", result
    assert site.errors == []


def badge_tools():
    """tests/unit/badge_tools.py: its text (a page's Python tools) and the module (for the forged code)."""
    import importlib.util

    path = Path(__file__).parents[1] / "unit" / "badge_tools.py"
    spec = importlib.util.spec_from_file_location("badge_tools", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path.read_text(), module


@pytest.mark.parametrize("mode", MODES)
def test_an_agent_never_gets_a_class_another_agents_tools_sent(browser, site_servers, mode):
    """The agents of a page share its agent worker. One agent's tool hands its code a Badge; another
    agent's code makes a class of the same module and name: its tool gets data without the Badge's
    methods, never an instance of the first agent's class."""
    source, tools = badge_tools()
    # Every page tool's module is `wasm_agent_page_tools`: the forged class names it.
    forge = tools.forged_badge_code("wasm_agent_page_tools", then="final_answer(open_vault(forged))")
    page = SitePage(browser, site_servers[mode].url).open()
    try:
        result = page.page.evaluate("""async ([source, forge]) => {
            const { createAgent } = await import("./wasm-agent.js");
            const make = (...codes) => createAgent({ pythonTools: [source], model: { provider: "scripted",
                                                     responses: codes.map((code) => `<code>${code}</code>`) } });
            const own = "badge = issue_badge('ann')\\nfinal_answer(open_vault(badge))";
            const [owner, attacker] = await Promise.all([make(own, own), make(forge)]);
            const first = await owner.run("Get a badge");
            const forged = await attacker.run("Open the vault");
            const again = await owner.run("Get a badge again");
            await Promise.all([owner.close(), attacker.close()]);
            return [first.output, forged.output, again.output];
        }""", [source, forge])
        assert result == ["refused: clearance 1", "refused: not a badge (Badge)", "refused: clearance 1"], result
        assert page.errors == []
    finally:
        page.close()
