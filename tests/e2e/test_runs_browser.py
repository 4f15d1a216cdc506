"""Durable runs in the browser (issue 9), end to end in Debian's Chromium: the built site
(agent worker, sandbox, IndexedDB) against the loopback OpenAI-compatible mock.

What a user relies on: every finished step is in IndexedDB before the next model call;
a reload in the middle of a run loses nothing, and resuming repeats nothing (the mock
counts model requests, a JS tool counts its calls in localStorage); runs export and
import as JSON (the same format as CPython's FileRunStore); the run's trace is valid
OTLP/JSON; the history panel lists, renames, exports, imports, deletes and resumes.

    python -m pytest tests/e2e/test_runs_browser.py
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import sys
import tempfile
import time

import pytest
from harness import REPO, StaticSite
from runs_site import integrate

sys.path.insert(0, str(REPO))
from build.site import build_site
from tests.providers.mock import MockProviderServer

KEY = "sk-runs-test"
READY_MS = 240_000
RUN_MS = 90_000


def code(thought: str, body: str) -> str:
    return f"Thought: {thought}\n<code>\n{body}\n</code>"


FIRST = code("Count once and look at the count.", 'first = tally(label="first")\nprint("tally after step 1:", first)')
LAST = code("Count again and answer with the count.", 'final_answer(tally(label="second"))')


@pytest.fixture(scope="module")
def runs_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs-site")
    build_site(folder / "dist", log=lambda *_: None)
    site = integrate(folder / "dist", folder / "site")
    server = StaticSite({"/": site, "/test/": REPO / "tests" / "e2e" / "site"}, isolated=True)
    yield server
    server.close()


@pytest.fixture(scope="module")
def mock():
    with MockProviderServer(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def page(browser, runs_server):
    """One tab of the test page for the whole module (the runtime boots once; the reload test reboots it)."""
    context = browser.new_context(viewport={"width": 1200, "height": 860})
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(f"pageerror: {error}"))
    tab.goto(f"{runs_server.url}/test/runs.html")
    tab.wait_for_selector("body[data-ready]")
    yield tab
    context.close()


def model_spec(mock) -> dict:
    return {"provider": "openai", "baseUrl": mock.openai_base, "model": "mock-coder", "apiKey": KEY}


def create_agent(page, mock, **extra) -> dict:
    return page.evaluate("([model, extra]) => runsTest.create(model, extra)", [model_spec(mock), extra])


def posts(mock) -> list:
    return [request for request in mock.requests if request.method == "POST"]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


STORE_ROUND_TRIP = """
import json
from wasm_agent.persistence import RunRecord
from wasm_agent.platform.browser_store import IndexedDBRunStore

store = IndexedDBRunStore(js_store)
checks = {}
older = RunRecord(id="older", title="Older", system_prompt="You are terse.", examples=[{"role": "user"}])
await store.create_run(older)
record = RunRecord(id="round-trip", title="Round trip", system_prompt="You are careful.")
await store.create_run(record)
steps = [{"type": "task", "task": "Say hé ∑ \\"quoted\\" 🙂"},
         {"type": "action", "step_number": 1, "observations": "line\\nnext", "token_usage": {"input_tokens": 3}}]
for step in steps:
    await store.append_step("round-trip", step)
checks["steps"] = await store.load_steps("round-trip") == steps
updated = await store.update_run("round-trip", status="success", steps=1)
checks["updated"] = [updated.status, updated.steps, updated.updated_at >= record.updated_at]
checks["listed"] = [run.id for run in await store.list_runs()]
got = await store.get_run("older")
checks["record"] = [got.system_prompt, got.examples, got.status]
exported = await store.export_run("round-trip")
await store.delete_run("round-trip")
try:
    await store.get_run("round-trip")
    checks["deleted"] = False
except KeyError:
    checks["deleted"] = True
checks["deleted_steps"] = await store.load_steps("round-trip")
imported = await store.import_run(exported)
checks["imported"] = [imported.id, imported.title, imported.status, await store.load_steps("round-trip") == steps]
try:
    await store.import_run(exported)
    checks["import_twice"] = "accepted"
except Exception as error:
    checks["import_twice"] = str(error)
try:
    await store.append_step("no-such-run", {"type": "task"})
    checks["append_unknown"] = "accepted"
except Exception as error:
    checks["append_unknown"] = str(error)
try:
    await store.update_run("older", colour="red")
except ValueError as error:
    checks["bad_field"] = str(error)
checks["exported"] = exported
json.dumps(checks)
"""


def test_store_round_trip_from_pyodide_in_a_worker(page):
    checks = page.evaluate("(source) => runsTest.storeRoundTrip(source)", STORE_ROUND_TRIP)
    assert checks["steps"] is True
    assert checks["updated"] == ["success", 1, True]
    assert checks["listed"][:2] == ["round-trip", "older"]  # newest (last updated) first
    assert checks["record"] == ["You are terse.", [{"role": "user"}], "running"]
    assert checks["deleted"] is True and checks["deleted_steps"] == []
    assert checks["imported"] == ["round-trip", "Round trip", "success", True]
    assert "already here" in checks["import_twice"]
    assert "no run no-such-run" in checks["append_unknown"]
    assert "colour" in checks["bad_field"]
    # The page lists what the worker wrote: one database per origin, shared by page and workers.
    listed = page.evaluate("runsTest.runs.listRuns()")
    by_id = {run["id"]: run for run in listed}
    assert by_id["round-trip"]["title"] == "Round trip" and by_id["round-trip"]["steps"] == 1
    # "older" says running, but nothing holds it: a closed worker's run is listed as interrupted.
    assert by_id["older"]["status"] == "interrupted"
    # The browser's export is CPython's format: FileRunStore imports it as it is.
    from wasm_agent.persistence import FileRunStore

    async def into_files(folder):
        store = FileRunStore(folder)
        run = await store.import_run(checks["exported"])
        return run, await store.export_run(run.id)

    # On its own thread: Playwright's sync API keeps an event loop running on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run, again = pool.submit(asyncio.run, into_files(tempfile.mkdtemp())).result()
    assert run.title == "Round trip" and run.imported is True
    assert again == {**checks["exported"], "run": {**checks["exported"]["run"], "imported": True}}
    page.evaluate("Promise.all(['round-trip', 'older'].map((id) => runsTest.runs.deleteRun(id)))")


def test_reload_mid_run_then_resume_loses_and_repeats_nothing(page, mock):
    mock.reset()
    page.evaluate("localStorage.removeItem('tally')")
    info = create_agent(page, mock)
    assert info["sandbox"], info
    # Step 1 answers at once; the model call of step 2 hangs until the page is gone; the resume gets the last.
    mock.script(FIRST, {"text": LAST, "delay": 30}, LAST)
    page.evaluate("runsTest.start('Count twice, then tell me the count.')")
    wait_for(lambda: len(posts(mock)) == 2, RUN_MS / 1000, "the second model call")
    # Step 1 was saved before the second model call was made.
    [run] = [r for r in page.evaluate("runsTest.agent.listRuns()") if r["title"].startswith("Count twice")]
    assert (run["status"], run["steps"]) == ("running", 1)
    saved = page.evaluate("(id) => runsTest.agent.exportRun(id)", run["id"])["steps"]
    assert [s["type"] for s in saved] == ["task", "action"]
    assert "tally after step 1: 1" in saved[1]["observations"]
    # While the worker runs it, nobody else may run it (the page here, another tab elsewhere).
    busy = page.evaluate("""(id) => runsTest.runs.runStore().then((store) => store.updateRun(id, {status: "running"}))
        .then(() => "accepted", (error) => `${error.name}: ${error.message}`)""", run["id"])
    assert busy.startswith("RunBusyError: ") and "another tab" in busy
    page.evaluate("runsTest.mountHistory()")
    page.click("#open-history")
    live = page.locator(f".runs-item[data-run-id='{run['id']}']")
    live.wait_for()
    assert live.locator(".runs-chip").text_content() == "running"
    assert live.locator(".runs-actions button").all_text_contents() == ["Rename", "Export"]  # no Resume, no Delete

    page.reload()
    page.wait_for_selector("body[data-ready]")
    listed = {r["id"]: r for r in page.evaluate("runsTest.runs.listRuns()")}
    assert (listed[run["id"]]["status"], listed[run["id"]]["steps"]) == ("interrupted", 1)
    create_agent(page, mock)
    result = page.evaluate("(id) => runsTest.agent.resume(id)", run["id"])
    assert (result["output"], result["state"], result["runId"]) == (2, "success", run["id"])

    # Nothing repeated: the tool ran once per step, and the model was asked once more (for step 2).
    assert page.evaluate("localStorage.getItem('tally')") == "2"
    requests = posts(mock)
    assert len(requests) == 3
    resumed = json.dumps(requests[2].json["messages"])
    assert "tally after step 1: 1" in resumed and "resumed" in resumed
    # The resumed call repeats the interrupted one's messages; the resume note joins its last (user) message.
    before, after_resume = requests[1].json["messages"], requests[2].json["messages"]
    assert after_resume[:len(before) - 1] == before[:-1]
    assert after_resume[len(before) - 1]["content"].startswith(before[-1]["content"])
    # Nothing lost: both steps, once each, and the run says so.
    steps = page.evaluate("(id) => runsTest.agent.exportRun(id)", run["id"])["steps"]
    assert [s["type"] for s in steps] == ["task", "action", "note", "action", "final_answer"]
    assert "run again to restore" in steps[2]["text"]  # step 1's code was replayed in the new sandbox
    assert [s["step_number"] for s in steps if s["type"] == "action"] == [1, 2]
    [after] = [r for r in page.evaluate("runsTest.agent.listRuns()") if r["id"] == run["id"]]
    assert (after["status"], after["steps"]) == ("success", 2)
    assert page.errors == []


def test_export_import_round_trip_through_the_js_api(page):
    [run] = [r for r in page.evaluate("runsTest.agent.listRuns()") if r["title"].startswith("Count twice")]
    exported = page.evaluate("(id) => runsTest.agent.exportRun(id)", run["id"])
    assert exported["format"] == "wasm-agent-run/1" and exported["run"]["id"] == run["id"]
    page.evaluate("(id) => runsTest.agent.deleteRun(id)", run["id"])
    assert run["id"] not in [r["id"] for r in page.evaluate("runsTest.agent.listRuns()")]
    imported = page.evaluate("(data) => runsTest.agent.importRun(JSON.stringify(data))", exported)
    assert (imported["id"], imported["status"], imported["steps"]) == (run["id"], "success", 2)
    assert imported["imported"] is True and exported["run"]["imported"] is False
    # The same run, now marked as having come from a file.
    assert page.evaluate("(id) => runsTest.agent.exportRun(id)", run["id"]) == \
        {**exported, "run": {**exported["run"], "imported": True}}
    renamed = page.evaluate("(id) => runsTest.agent.renameRun(id, 'Counting, renamed')", run["id"])
    assert renamed["title"] == "Counting, renamed" and renamed["updatedAt"] >= run["updatedAt"]


def test_persist_false_saves_nothing(page):
    before = len(page.evaluate("runsTest.runs.listRuns()"))
    page.evaluate("""() => runsTest.create({provider: "scripted", responses: ["<code>final_answer(7)</code>"]},
                                           {persist: false})""")
    result = page.evaluate("runsTest.agent.run('Seven, unsaved.')")
    assert (result["output"], result["runId"]) == (7, None)
    assert len(page.evaluate("runsTest.runs.listRuns()")) == before


def test_trace_of_a_browser_run_is_valid_otlp_json(page, mock):
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    create_agent(page, mock)  # the trace names model calls after the agent's model

    [run] = [r for r in page.evaluate("runsTest.agent.listRuns()") if r["title"] == "Counting, renamed"]
    trace = page.evaluate("(id) => runsTest.agent.exportTrace(id, {prices: {inputPerMillion: 3, outputPerMillion: 15}})",
                          run["id"])
    spans = trace["resourceSpans"][0]["scopeSpans"][0]["spans"]
    names = [span["name"] for span in spans]
    assert names[0] == "invoke_agent Counting, renamed"
    assert names.count("chat mock-coder") == 2 and names.count("execute_tool python_interpreter") == 2
    root = {a["key"]: a["value"] for a in spans[0]["attributes"]}
    assert root["wasm_agent.run.status"] == {"stringValue": "success"} and root["wasm_agent.cost.usd"]["doubleValue"] > 0
    # OTLP/JSON ids are hex; protobuf's JSON mapping wants base64 for bytes.
    for span in spans:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    request = json_format.ParseDict(trace, ExportTraceServiceRequest())
    assert len(request.resource_spans[0].scope_spans[0].spans) == len(spans)


def test_history_panel_lists_opens_renames_exports_imports_deletes_and_resumes(page, mock, tmp_path):
    [run] = [r for r in page.evaluate("runsTest.agent.listRuns()") if r["title"] == "Counting, renamed"]
    page.evaluate("runsTest.mountHistory()")
    page.click("#open-history")
    item = page.locator(f".runs-item[data-run-id='{run['id']}']")
    item.wait_for()
    assert item.locator(".runs-open").text_content() == "Counting, renamed"
    assert "finished" in item.locator(".runs-meta").text_content() and "2 steps" in item.locator(".runs-meta").text_content()
    assert item.locator(".runs-actions button", has_text="Resume").count() == 0  # a finished run is not resumable

    # Open: the timeline from Python, with tokens, totals and (once prices are set) a cost.
    item.locator(".runs-open").click()
    page.wait_for_selector(".timeline-table")
    kinds = page.eval_on_selector_all(".timeline-row", "rows => rows.map((row) => row.className.split(' ')[1])")
    assert kinds == ["timeline-step", "timeline-model", "timeline-tool"] * 2
    assert "2 model calls · 2 tool calls" in page.text_content(".timeline-totals")
    page.fill("#price-input", "3")
    page.fill("#price-output", "15")
    page.click(".timeline-prices button[type=submit]")
    page.wait_for_selector(".timeline-cost")
    assert page.text_content(".timeline-cost").startswith(" · ≈ $0.0")
    # The saved steps, folded, as the chat showed them (events made by Python from the saved memory).
    page.click(".runs-steps > summary:text-is('Steps (2)')")
    page.wait_for_selector(".runs-steps .final-text")
    assert page.text_content(".runs-steps .msg-user .msg-text") == "Count twice, then tell me the count."
    assert page.locator(".runs-steps .step-action").count() == 2
    assert "tally after step 1: 1" in page.text_content(".runs-steps .observation-text")
    assert page.text_content(".runs-steps .final-text") == "2"
    screenshot(page, "runs-history")
    with page.expect_download() as download:
        page.click(".timeline-export")
    trace = json.loads(download.value.path().read_text())
    assert trace["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] == "invoke_agent Counting, renamed"

    # Rename, export, delete (two clicks), import the file back.
    item.locator(".runs-actions button", has_text="Rename").click()
    page.fill(".runs-rename input", "Counted twice")
    page.click(".runs-rename button[type=submit]")
    page.wait_for_selector(f".runs-item[data-run-id='{run['id']}'] .runs-open:text-is('Counted twice')")
    with page.expect_download() as download:
        item.locator(".runs-actions button", has_text="Export").click()
    exported_path = tmp_path / download.value.suggested_filename
    download.value.save_as(exported_path)
    exported = json.loads(exported_path.read_text())
    assert exported["format"] == "wasm-agent-run/1" and exported["run"]["title"] == "Counted twice"
    item.locator(".runs-delete").click()
    assert item.count() == 1  # the first click only asks
    item.locator(".runs-delete").click()
    item.wait_for(state="detached")
    page.set_input_files("#runs-import", str(exported_path))
    item.wait_for()
    assert "Imported “Counted twice”" in page.text_content(".runs-status")

    # A run that stopped after step 1 (here: imported from a file) resumes from the panel.
    stopped = {**exported, "run": {**exported["run"], "id": "stopped-after-one", "title": "Stopped after one",
                                   "status": "interrupted", "steps": 1}, "steps": exported["steps"][:2]}
    resumable = import_file(page, tmp_path / "stopped.json", stopped)
    assert "interrupted" in resumable.locator(".runs-meta").text_content()
    mock.reset()
    mock.script(LAST)
    resumable.locator(".runs-actions button", has_text="Resume").click()
    page.click(".runs-consent button:text-is('Resume without running it')")  # imported: its code is not rerun
    page.wait_for_function("runsTest.events.some((event) => event.type === 'resumed')", timeout=RUN_MS)
    [event] = page.evaluate("runsTest.events")
    assert (event["result"]["state"], event["result"]["runId"]) == ("success", "stopped-after-one")
    assert event["result"]["output"] == int(page.evaluate("localStorage.getItem('tally')"))
    assert len(posts(mock)) == 1
    page.click("#open-history")
    page.wait_for_selector(".runs-item[data-run-id='stopped-after-one'] .runs-chip:text-is('finished')")
    assert page.errors == []


def import_file(page, path, data: dict):
    """Import `data` as a file through the open Runs dialog; its item once listed."""
    path.write_text(json.dumps(data))
    page.set_input_files("#runs-import", str(path))
    item = page.locator(f".runs-item[data-run-id='{data['run']['id']}']")
    item.wait_for()
    return item


def screenshot(page, name: str) -> None:
    """A PNG under tests/e2e/artifacts/ (git-ignored) for people to look at."""
    folder = REPO / "tests" / "e2e" / "artifacts"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def choose_mock_model(site, mock) -> None:
    """Model settings of the site's page → the loopback mock."""
    site.click("#open-settings")
    site.check("input[name=provider][value=openai]")
    site.fill("#base-url", mock.openai_base)
    site.fill("#model", "mock-coder")
    site.fill("#api-key", KEY)
    site.click("#settings button[type=submit]")
    site.wait_for_selector("#settings", state="hidden")


def test_site_page_resumes_a_saved_run_from_its_runs_panel(page, mock):
    """The site itself (index.html + app.js with the documented lines): Runs → Resume → the chat shows the end."""
    source = page.evaluate("runsTest.agent.exportRun('stopped-after-one')")
    stopped = {**source, "run": {**source["run"], "id": "site-stopped", "title": "Site: stopped after one",
                                 "status": "interrupted", "steps": 1}, "steps": source["steps"][:2]}
    site = page.context.new_page()  # same origin and context: the same IndexedDB
    site.errors = []
    site.on("pageerror", lambda error: site.errors.append(f"pageerror: {error}"))
    try:
        site.goto(page.url.split("/test/")[0] + "/index.html")
        site.wait_for_selector("body[data-ready]", timeout=READY_MS)
        site.evaluate("(data) => import('./runs-api.js').then((runs) => runs.importRun(data))", stopped)
        choose_mock_model(site, mock)
        site.click("#open-history")
        item = site.locator(".runs-item[data-run-id='site-stopped']")
        item.wait_for()
        screenshot(site, "runs-site-panel")
        mock.reset()
        mock.script(code("Answer now.", 'final_answer("resumed in the site")'))
        item.locator(".runs-actions button", has_text="Resume").click()
        site.click(".runs-consent button:text-is('Resume without running it')")  # imported: asked first
        site.wait_for_selector(".msg-agent .final-text", timeout=RUN_MS)
        assert site.locator(".msg-user .msg-text").last.text_content() == "Resume “Site: stopped after one”"
        assert site.locator(".msg-agent .final-text").last.text_content() == "resumed in the site"
        assert len(posts(mock)) == 1
        screenshot(site, "runs-site-resumed")
        assert site.errors == []
    finally:
        site.close()


# -- untrusted run files ------------------------------------------------------------------

# A run file's code: it plants a variable, and a `greet` function that calls the page's tool with the file's own arguments.
PLANTED = 'secret = "planted by the file"\ndef greet(*args):\n    tally(label="planted by the file")'
# The resumed run's own code: it greets (the trap, if planted) and answers with what it finds.
LOOK = code("See what is defined.", 'try:\n    greet("hello")\nexcept NameError:\n    pass\ntry:\n    found = secret\nexcept NameError:\n'
                                     '    found = "absent"\nfinal_answer(found)')


def open_panel(page) -> None:
    """The Runs dialog, opened afresh (so that it lists what is stored now)."""
    page.evaluate("() => { runsTest.mountHistory(); runsTest.history.close(); }")
    page.click("#open-history")


def planted_run(run_id: str) -> dict:
    """An exported run that stopped after one step whose code is PLANTED."""
    now = time.time()
    return {"format": "wasm-agent-run/1",
            "run": {"id": run_id, "title": f"Planted {run_id}", "status": "interrupted", "steps": 1,
                    "created_at": now - 60, "updated_at": now - 30, "system_prompt": "You write code.",
                    "examples": None, "imported": False},  # the file claims to be local: the import decides
            "steps": [{"type": "task", "task": "Look around."},
                      {"type": "action", "step_number": 1, "timing": {"start_time": now - 50, "end_time": now - 49},
                       "model_output": code("Set things up.", PLANTED), "code_action": PLANTED,
                       "code_tool_calls": [], "observations": "", "error": None, "is_final_answer": False}]}


def test_an_imported_run_is_resumed_without_its_code_unless_the_user_agrees(page, mock, tmp_path):
    page.evaluate("localStorage.removeItem('tally')")
    create_agent(page, mock)
    imported = page.evaluate("(data) => runsTest.agent.importRun(data)", planted_run("planted-api"))
    assert imported["imported"] is True and imported["status"] == "interrupted"

    # The JS API's default for an imported run: its code is not run, the model is told so.
    mock.reset()
    mock.script(LOOK)
    result = page.evaluate("runsTest.agent.resume('planted-api')")
    assert (result["output"], result["state"]) == ("absent", "success")
    assert page.evaluate("localStorage.getItem('tally')") is None  # the file's trap never called the tool
    told = json.dumps(posts(mock)[0].json["messages"])
    assert "not run again" in told and "imported from a file" in told and "not defined" in told
    [listed] = [r for r in page.evaluate("runsTest.agent.listRuns()") if r["id"] == "planted-api"]
    assert listed["imported"] is True  # resuming does not make it trusted
    laundered = page.evaluate("""() => runsTest.runs.runStore().then((store) => store.updateRun('planted-api',
        {imported: false})).then(() => "accepted", (error) => error.message)""")
    assert laundered == 'a run has no field "imported" to update'

    # The panel: Resume on an imported run first shows the code that would run, and runs nothing.
    page.evaluate("() => { runsTest.events.length = 0; }")
    open_panel(page)
    item = import_file(page, tmp_path / "planted.json", planted_run("planted-panel"))
    assert "imported" in item.locator(".runs-meta").text_content()
    mock.reset()
    mock.script(LOOK)
    item.locator(".runs-actions button", has_text="Resume").click()
    consent = page.locator(".runs-consent")
    consent.wait_for()
    assert "imported from a file" in consent.text_content() and "can call your tools" in consent.text_content()
    consent.locator("summary").click()
    assert 'secret = "planted by the file"' in consent.locator("pre").text_content()
    screenshot(page, "runs-replay-consent")
    consent.locator("button", has_text="Cancel").click()
    consent.wait_for(state="hidden")
    assert posts(mock) == [] and page.evaluate("localStorage.getItem('tally')") is None

    # The user agrees: the file's code runs again, and with it the trap it set.
    item.locator(".runs-actions button", has_text="Resume").click()
    consent.locator("button", has_text="Run its code and resume").click()
    page.wait_for_function("runsTest.events.some((event) => event.type === 'resumed')", timeout=RUN_MS)
    [event] = page.evaluate("runsTest.events")
    assert (event["replay"], event["result"]["output"]) == (True, "planted by the file")
    assert page.evaluate("localStorage.getItem('tally')") == "1"
    assert "run again to restore" in json.dumps(posts(mock)[0].json["messages"])
    assert page.errors == []


def test_a_malformed_run_file_is_refused_naming_the_field(page, tmp_path):
    before = page.evaluate("runsTest.runs.listRuns()")
    bad = planted_run("bad-start-time")
    bad["steps"][1]["timing"]["start_time"] = "abc"
    refused = page.evaluate("""(data) => runsTest.agent.importRun(data).then(() => "accepted",
        (error) => `${error.name}: ${error.message}`)""", bad)
    assert refused == 'RunFormatError: steps[1].timing.start_time: expected a finite number, got "abc"'
    bad = planted_run("null-time")
    bad["run"]["updated_at"] = None
    path = tmp_path / "null-time.json"
    path.write_text(json.dumps(bad))
    open_panel(page)
    page.set_input_files("#runs-import", str(path))
    page.wait_for_selector(".runs-status-error")
    assert page.text_content(".runs-status") == \
        "Could not import null-time.json: run.updated_at: expected a finite number, got null"
    assert page.evaluate("runsTest.runs.listRuns()") == before  # nothing stored


def test_a_damaged_record_in_indexeddb_is_listed_as_damaged_and_deletable(page):
    good = {run["id"] for run in page.evaluate("runsTest.runs.listRuns()")}
    assert good
    # Records an older version or a hand in the devtools could have left: wrong types, a time the index skips.
    page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("wasm-agent-runs");
        open.onsuccess = () => {
          const tx = open.result.transaction(["runs"], "readwrite");
          const runs = tx.objectStore("runs");
          runs.put({ id: "hand-null-time", title: "Null time", status: "success", steps: 1, updated_at: null });
          runs.put({ id: "hand-string-time", title: 42, created_at: "abc", updated_at: "abc" });
          runs.put({ id: "hand-bad-status", title: "Bad status", status: { evil: true }, updated_at: 5 });
          tx.oncomplete = () => { open.result.close(); resolve(); };
          tx.onerror = () => reject(tx.error);
        };
        open.onerror = () => reject(open.error);
    })""")
    listed = {run["id"]: run for run in page.evaluate("runsTest.runs.listRuns()")}
    assert good <= set(listed)  # every good run is still listed
    assert listed["hand-null-time"]["damage"] == "run.updated_at: expected a finite number, got null"
    assert listed["hand-string-time"]["damage"] == "run.title: expected a string, got 42"
    assert listed["hand-bad-status"]["damage"].startswith("run.status: expected one of running")
    resumed = page.evaluate("""runsTest.agent.resume('hand-null-time').then(() => "resumed",
        (error) => error.message)""")
    assert "damaged" in resumed and "updated_at" in resumed

    open_panel(page)
    damaged = page.locator(".runs-item[data-run-id='hand-null-time']")
    damaged.wait_for()
    assert damaged.get_attribute("data-status") == "damaged"
    assert "cannot be read: run.updated_at: expected a finite number, got null" in damaged.text_content()
    assert damaged.locator(".runs-actions button").all_text_contents() == ["Delete"]
    for run_id in good:  # the good runs render beside the damaged ones
        page.locator(f".runs-item[data-run-id='{run_id}'] .runs-open").wait_for()
    screenshot(page, "runs-damaged")
    for run_id in ("hand-null-time", "hand-string-time", "hand-bad-status"):
        item = page.locator(f".runs-item[data-run-id='{run_id}']")
        item.locator(".runs-delete").click()
        item.locator(".runs-delete").click()
        item.wait_for(state="detached")
    assert {run["id"] for run in page.evaluate("runsTest.runs.listRuns()")} == good
    assert page.errors == []


# -- a store that refuses writes ------------------------------------------------------------

@pytest.fixture(scope="module")
def quota_server(runs_server, tmp_path_factory):
    """The same site on another origin (its own IndexedDB), whose agent worker's writes fail once full."""
    site = integrate(dict(runs_server.mounts)["/"], tmp_path_factory.mktemp("quota-site") / "site")
    worker = site / "agent.worker.js"
    text = worker.read_text()
    worker.unlink()  # a hard link to the build: write a file of our own
    worker.write_text('import "./test/idb-quota.js";\n' + text)
    server = StaticSite({"/": site, "/test/": REPO / "tests" / "e2e" / "site"}, isolated=True)
    yield server
    server.close()


def test_a_run_whose_writes_fail_shows_why_and_still_answers(browser, quota_server, mock):
    context = browser.new_context(viewport={"width": 1200, "height": 860})
    site = context.new_page()
    errors = []
    site.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    try:
        site.goto(f"{quota_server.url}/index.html")
        site.wait_for_selector("body[data-ready]", timeout=READY_MS)
        earlier = planted_run("earlier-run")
        earlier["run"].update(title="Earlier run", status="success")
        site.evaluate("(data) => import('./runs-api.js').then((runs) => runs.importRun(data))", earlier)
        kept = site.evaluate("import('./runs-api.js').then((runs) => runs.exportRun('earlier-run'))")
        choose_mock_model(site, mock)
        mock.reset()
        mock.script(code("Write a lot.", 'print("FILL-THE-DISK " * 3)\nx = 21'), code("Answer.", "final_answer(x * 2)"))
        site.fill("#task", "Fill the disk, then answer")
        site.click("#run")
        site.wait_for_selector(".msg-agent .final-text", timeout=RUN_MS)
        assert site.locator(".msg-agent .final-text").last.text_content() == "42"  # the answer still comes
        notice = site.locator(".save-error")
        assert notice.get_attribute("role") == "alert"
        assert notice.text_content().startswith("This run could not be saved: ")
        assert notice.text_content() == "This run could not be saved: QuotaExceededError: The quota has been exceeded."
        assert len(posts(mock)) == 2
        screenshot(site, "runs-save-failed")

        runs = {run["title"]: run for run in site.evaluate("import('./runs-api.js').then((r) => r.listRuns())")}
        failed = runs["Fill the disk, then answer"]
        assert failed["status"] != "running" and failed["steps"] == 0  # not "running" for ever; what was saved, kept
        assert site.evaluate("import('./runs-api.js').then((r) => r.exportRun('earlier-run'))") == kept
        site.click("#open-history")
        site.locator(".runs-item[data-run-id='earlier-run'] .runs-open:text-is('Earlier run')").wait_for()
        assert errors == []
    finally:
        context.close()
