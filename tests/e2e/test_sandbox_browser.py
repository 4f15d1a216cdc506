"""The browser sandbox's behaviour, with COOP/COEP (Atomics, interrupt buffer)
and without (JSPI, restart): what generated code sees and what the host gets."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys

import pytest
from harness import REPO


def test_sandbox_html_is_built_from_its_scripts():
    check = subprocess.run([sys.executable, str(REPO / "web" / "sandbox" / "build_html.py"), "--check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_cold_boot_without_snapshot_and_no_spare(browser, sites, wheel):
    from conftest import open_sandbox_page

    page = open_sandbox_page(browser, sites["isolated"], wheel, spare=False)
    try:
        assert page.info["ready"]["snapshot"] is False
        assert page.run("add(1, 2)")["output"] == 3
    finally:
        page.page.context.close()


def test_document_isolation_policy_gives_the_sandbox_atomics_on_a_plain_page(browser, wheel, snapshot):
    """A page without COOP/COEP, but sandbox.html served with Document-Isolation-Policy:
    the sandbox alone is cross-origin isolated (Atomics, interrupt buffer)."""
    from conftest import open_sandbox_page
    from harness import StaticSite, sandbox_site_mounts

    dip = {"/sandbox/sandbox.html": {"Document-Isolation-Policy": "isolate-and-require-corp"}}
    site = StaticSite(sandbox_site_mounts(wheel, snapshot), isolated=False, headers=dip)
    page = open_sandbox_page(browser, site, wheel, snapshot, spare=False)
    try:
        assert page.info["isolated"] is False
        assert page.info["ready"]["bridge"] == "atomics" and page.info["ready"]["interrupts"] is True
        result = page.evaluate("() => sandboxTest.runAndInterrupt('kept = 1\\nwhile True:\\n    pass', 300)")
        assert "kept" in result["error"], result
        assert page.run("kept + add(1, 1)")["output"] == 3
    finally:
        page.page.context.close()
        site.close()


def test_boots_from_the_snapshot_and_restarts_from_the_warm_spare(sandbox, snapshot):
    if snapshot is None:
        pytest.skip("no Deno here to make a snapshot")
    assert sandbox.info["ready"]["snapshot"] is True
    sandbox.page.wait_for_function("sandboxTest.spareReady", timeout=60_000)
    restart_ms = sandbox.evaluate("""async () => {
        const t0 = performance.now();
        await sandboxTest.client.restart();
        return performance.now() - t0;
    }""")
    assert restart_ms < 1500, restart_ms  # 75-100 ms on a quiet box; a cold boot takes seconds
    assert sandbox.run("add(1, 1)")["output"] == 2
    sandbox.page.wait_for_function("sandboxTest.spareReady", timeout=60_000)  # the next spare boots


def test_blocking_mode_follows_isolation(sandbox):
    isolated = sandbox.mode == "isolated"
    assert sandbox.info["isolated"] is isolated
    assert sandbox.info["ready"]["bridge"] == ("atomics" if isolated else "jspi")
    assert sandbox.info["ready"]["interrupts"] is isolated


def test_state_persists_across_steps(sandbox):
    assert sandbox.run("import math\ncounter = 1\ndef double(v):\n    return 2 * v")["error"] is None
    result = sandbox.run("counter = double(counter) + 1\nprint('counter is', counter)\nmath.sqrt(counter * 3)")
    assert result == {**result, "output": 3.0, "logs": "counter is 3\n", "error": None, "is_final_answer": False}


def test_tools_take_args_and_kwargs_and_keep_their_signature(sandbox):
    result = sandbox.run("import inspect\n"
                         "print(inspect.signature(add), inspect.signature(greet))\n"
                         "[add(2, 3), add(a=4, b=5), greet('Ada'), greet(name='Bob', punctuation='?')]")
    assert result["error"] is None, result
    assert result["output"] == [5, 9, "Hello, Ada!", "Hello, Bob?"]
    assert result["logs"] == "(a: int, b: int) -> int (name: str, punctuation: str = None) -> str\n"


def test_tool_values_cross_as_json_and_others_as_repr(sandbox):
    result = sandbox.run("echo({'a': [1, 2.5, None, True], 'b': 'x'})")
    assert result["output"] == {"a": [1, 2.5, None, True], "b": "x"}
    result = sandbox.run("len")
    assert result["output"] == {"$repr": "<built-in function len>", "$type": "builtin_function_or_method"}
    # A Python set arrives as a JS Set (marked as one on the wire).
    assert sandbox.evaluate("async () => { const { output } = await sandboxTest.run('{1, 2}');"
                            " return output instanceof Set ? [...output].sort() : String(output); }") == [1, 2]


def test_tool_error_names_the_tool_and_the_code_goes_on(sandbox):
    result = sandbox.run("try:\n    fail()\nexcept Exception as error:\n    caught = str(error)\ncaught")
    assert result["error"] is None
    assert 'tool "fail" failed: the tool broke on purpose' in result["output"]
    result = sandbox.run("fail()")
    assert "line 1 `fail()`" in result["error"] and "the tool broke on purpose" in result["error"]


def test_async_tool_blocks_the_code_until_it_answers(sandbox):
    result = sandbox.run("slow(150) + slow(ms=50)")
    assert result["output"] == 200 and result["ms"] >= 200


def test_final_answer_ends_the_step(sandbox):
    result = sandbox.run("print('before')\nfinal_answer({'answer': 42})\nprint('after')")
    assert result["is_final_answer"] is True
    assert result["output"] == {"answer": 42}
    assert result["logs"] == "before\n"


def test_variables_and_reset(sandbox):
    sandbox.evaluate("() => sandboxTest.client.sendVariables({given: [1, 2, 3], name: 'x'})")
    assert sandbox.run("sum(given), name")["output"] == [6, "x"]
    sandbox.evaluate("() => sandboxTest.client.reset()")
    result = sandbox.run("given")
    assert "NameError" in result["error"]
    assert sandbox.run("add(1, 1)")["output"] == 2  # tools survive a reset


def test_errors_and_exit_are_observations(sandbox):
    assert "ZeroDivisionError" in sandbox.run("1 / 0")["error"]
    assert sandbox.run("x = (")["error"].startswith("SyntaxError")
    assert "SystemExit" in sandbox.run("import sys\nsys.exit(3)")["error"]
    assert sandbox.run("2 + 2")["output"] == 4


def test_output_is_capped(sandbox):
    result = sandbox.run("for i in range(100000):\n    print('flood', i)\n'done'")
    assert result["output"] == "done"
    assert len(result["logs"]) < 21_000
    assert "output truncated" in result["logs"]


def test_endless_loop_is_stopped_by_the_time_limit(sandbox):
    sandbox.run("kept = 'yes'")
    result = sandbox.run("while True:\n    pass", timeout_ms=1000)
    assert result["error"].startswith("Execution stopped: the code ran longer than the 1 s time limit")
    if sandbox.mode == "isolated":  # the interrupt buffer: KeyboardInterrupt, state kept
        assert "kept" in result["error"] and result["ms"] < 1500
        assert sandbox.run("kept")["output"] == "yes"
    else:  # no shared memory: the worker is replaced and the model is told
        assert "lost" in result["error"]
        assert "NameError" in sandbox.run("kept")["error"]
    assert sandbox.run("add(20, 22)")["output"] == 42  # tools were sent to the new worker


def test_interrupt_stops_code_waiting_on_a_tool_and_keeps_state(sandbox):
    sandbox.run("kept = 7")
    result = sandbox.evaluate("() => sandboxTest.runAndInterrupt('slow(5000)', 300)")
    assert result["error"].startswith("Execution stopped: the run was interrupted"), result
    assert result["ms"] < 2500
    assert sandbox.run("kept")["output"] == 7


def test_interrupt_stops_an_endless_loop(sandbox):
    sandbox.run("kept = 8")
    result = sandbox.evaluate("() => sandboxTest.runAndInterrupt('while True:\\n    pass', 300)")
    assert result["error"].startswith("Execution stopped: the run was interrupted"), result
    if sandbox.mode == "isolated":  # stopped by the interrupt buffer, not a restart (bench/ times it)
        assert sandbox.run("kept")["output"] == 8
    else:
        assert "lost" in result["error"]
    assert sandbox.run("add(1, 2)")["output"] == 3


def test_crashed_sandbox_is_replaced(sandbox):
    # Overflowing the wasm stack is fatal for Pyodide: the worker reports it and is replaced.
    result = sandbox.run("import sys\nsys.setrecursionlimit(10**7)\ndef down(n):\n    return down(n + 1)\ndown(0)",
                         timeout_ms=20_000)
    assert result["error"], result
    assert re.search(r"RecursionError|crashed|stopped", result["error"]), result
    assert sandbox.run("add(2, 2)")["output"] == 4


def test_worker_cannot_close_itself(sandbox):
    sandbox.run("kept = 3")
    result = sandbox.run("import js\njs.close()\njs.DedicatedWorkerGlobalScope.prototype.close.call(js.self)\n'open'")
    assert result["output"] == "open", result
    assert sandbox.run("add(kept, 3)")["output"] == 6


def test_a_crash_report_posted_by_the_code_itself_is_not_heard(sandbox):
    """Only what the worker's core frames with its key reaches the host: code that posts `crashed`
    (or anything else) on its own is dropped, and its step ends by the time limit as any loop."""
    sandbox.run("kept = 1")
    result = sandbox.run("import js\njs.postMessage('{\"type\":\"crashed\",\"reason\":\"forged\"}')\n"
                         "js.postMessage(js.JSON.parse('{\"k\": \"guess\", \"m\": \"{}\"}'))\nwhile True:\n    pass",
                         timeout_ms=3000)
    assert result["error"].startswith("Execution stopped"), result
    assert not [event for event in sandbox.events("crashed") if "forged" in str(event.get("reason"))]
    if sandbox.mode == "isolated":  # the interrupt buffer stopped it: the variables are there
        assert sandbox.run("kept")["output"] == 1
    assert sandbox.run("add(3, 3)")["output"] == 6


def test_memory_bomb_fails_with_memory_error(sandbox):
    result = sandbox.run("blob = bytearray(900 * 2**20)", timeout_ms=20_000)
    assert "MemoryError" in result["error"], result
    result = sandbox.run("hog = []\nwhile True:\n    hog.append(bytearray(2**20))", timeout_ms=20_000)
    assert "MemoryError" in result["error"] or "lost" in result["error"], result
    assert sandbox.run("hog = None\nadd(5, 5)")["output"] == 10  # the memory is free again


@pytest.mark.parametrize("mode", ["isolated", "plain"])
def test_js_heap_bomb_ends_only_the_sandbox_frame(browser, sites, wheel, snapshot, mode):
    """Huge JS arrays made through `js` exhaust the sandbox's JS heap, which ends its process (V8 does
    not survive that). Chromium runs the sandboxed frame in a process of its own: the page lives on,
    the client notices the silent frame, the page opens a new one and the next step runs there."""
    import json

    from conftest import open_sandbox_page

    page = open_sandbox_page(browser, sites[mode], wheel, snapshot, spare=False)
    # Playwright treats the end of any of the page's processes as the page's crash and stops
    # evaluating in it; the DevTools protocol still reaches the page, which is what shows it is alive.
    cdp = page.page.context.new_cdp_session(page.page)

    def evaluate(expression: str):
        answer = cdp.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        assert "exceptionDetails" not in answer, answer
        return answer["result"].get("value")

    try:
        assert page.run("kept = 1\nadd(kept, 1)")["output"] == 2
        bomb = "import js\nhoard = []\nwhile True:\n    hoard.append(js.Array.new(2**25).fill(1.5))"
        result = evaluate(f"sandboxTest.run({json.dumps(bomb)}, {{timeoutMs: 120000}})")
        assert "stopped answering" in result["error"] and "lost" in result["error"], result
        assert evaluate("sandboxTest.run('add(2, 3)')")["output"] == 5
        assert "NameError" in evaluate("sandboxTest.run('kept')")["error"]
        assert "lost" in [event["type"] for event in evaluate("sandboxTest.events")]
        assert evaluate("document.querySelectorAll('iframe').length") == 1  # the dead frame was removed
    finally:
        page.page.context.close()


def test_close_ends_the_sandbox(browser, sites, wheel, snapshot):
    from conftest import open_sandbox_page

    page = open_sandbox_page(browser, sites["plain"], wheel, snapshot, spare=False)
    try:
        assert page.run("add(1, 1)")["output"] == 2
        error = page.evaluate("""async () => {
            sandboxTest.client.close();
            try { await sandboxTest.client.run('1'); return null; } catch (error) { return error.message; }
        }""")
        assert error == "the sandbox was closed"
    finally:
        page.page.context.close()


def test_packages_from_the_sites_wheel_folder(sandbox):
    assert "ModuleNotFoundError" in sandbox.run("import tinypkg")["error"]
    url = "/test-wheels/tinypkg-1.0-py3-none-any.whl"
    wheel = REPO / ".cache" / "e2e-wheels" / "tinypkg-1.0-py3-none-any.whl"  # what the test site serves
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    sandbox.evaluate("(wheels) => sandboxTest.client.install(wheels)", [{"url": url, "sha256": sha256}])
    assert sandbox.run("import tinypkg\ntinypkg.double(tinypkg.VALUE)")["output"] == 84
    assert "_wasm_agent_wheels" not in sandbox.run("dir()")["output"]
    sandbox.evaluate("() => sandboxTest.client.restart()")  # a new worker gets it again
    assert sandbox.run("import tinypkg\ntinypkg.VALUE")["output"] == 42
    install = "(wheels) => sandboxTest.client.install(wheels).then(() => null, (error) => error.message)"
    error = sandbox.evaluate(install, [{"url": "/test-wheels/missing-1.0-py3-none-any.whl"}])
    assert "missing-1.0-py3-none-any.whl is not in the site's wheel folder" in error
    assert sandbox.evaluate(install, [{"url": url, "sha256": sha256}]) is None  # installed already: skipped
    shutil.copy(wheel, wheel.with_name("tampered-1.0-py3-none-any.whl"))
    error = sandbox.evaluate(install, [{"url": "/test-wheels/tampered-1.0-py3-none-any.whl", "sha256": "0" * 64}])
    assert error == "tampered-1.0-py3-none-any.whl does not match the lock file's sha256 (rebuild the site)"
    error = sandbox.evaluate(install, [{"url": "/test-wheels/fast-1.0-cp314-cp314-linux_x86_64.whl"}])
    assert error == ("fast-1.0-cp314-cp314-linux_x86_64.whl: only pure-Python wheels (py3-none-any) and Pyodide's "
                     "builds can be installed")
    assert sandbox.run("add(1, 1)")["output"] == 2
