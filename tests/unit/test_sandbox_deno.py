"""CodeAgent from CPython through the Deno sandbox (real Deno, real Pyodide).

One sandbox process serves the module (tests that break it on purpose make
their own or check that it was replaced). Needs `pip install deno` and `npm ci`.
"""

import asyncio
import contextlib
import http.server
import json
import os
import threading
import time
import typing

import pytest
from deno_sandbox import require_deno_sandbox
from sample_tools import add, divide, wait_long

from wasm_agent import CodeAgent, ScriptedModel, resources, tool
from wasm_agent.errors import ExecutorUnavailableError
from wasm_agent.executor import ExecutionLimits
from wasm_agent.platform import block_on

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()

SECRET = "wasm-agent-test-secret-7f3a"


@tool
async def slow_echo(text: str, delay: float = 0.01) -> dict:
    """Echo the text after a pause, from an async tool.

    Args:
        text: What to echo.
        delay: Seconds to wait.
    """
    await asyncio.sleep(delay)
    return {"text": text, "loop": id(asyncio.get_running_loop())}


TOOLS = (add, divide, slow_echo, wait_long)


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


@pytest.fixture(scope="module")
def executor():
    os.environ["WASM_AGENT_TEST_SECRET"] = SECRET  # must not be visible inside the sandbox
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=20, max_memory_mb=1500),
                                           spare=True)  # restarts in these tests are then immediate
    yield executor
    block_on(executor.close())


def agent_for(executor, responses, tools=TOOLS, **kwargs):
    return CodeAgent(list(tools), ScriptedModel(responses), executor=executor, **kwargs)


@contextlib.contextmanager
def time_limit(executor, seconds):
    saved = executor.limits.timeout_seconds
    executor.limits.timeout_seconds = seconds
    try:
        yield
    finally:
        executor.limits.timeout_seconds = saved


# -- behaviour -------------------------------------------------------------------------
async def test_state_prints_and_tool_calls_cross_the_boundary(executor):
    agent = agent_for(executor, [
        code("x = add(2, b=3)\nprint('x is', x)\nimport sys; print('err', file=sys.stderr)"),
        code("final_answer({'x': x * 10, 'pair': (1, 2)})"),
    ])
    result = await agent.arun("Compute", return_full_result=True)
    assert (result.output, result.state) == ({"x": 50, "pair": (1, 2)}, "success")  # the tuple stays one
    assert agent.memory.steps[1].observations.startswith("Execution logs:\nx is 5\nerr")


async def test_default_executor_on_cpython_is_the_deno_sandbox():
    agent = CodeAgent([add], ScriptedModel([code("final_answer(add(20, 22))")]))
    try:
        assert await agent.arun("Add") == 42
        assert isinstance(agent.executor.sandbox, sandbox.DenoSandboxExecutor)  # borrowed from the pool
        assert list(agent.executor.sandbox.logs) == []  # a clean boot says nothing
    finally:
        await agent.close()


async def test_tool_errors_name_the_tool_and_the_run_goes_on(executor):
    agent = agent_for(executor, [code("divide(1, 0)"), code("add('a', 1)"), code("final_answer('ok')")])
    assert await agent.arun("Go") == "ok"
    first, second = agent.memory.steps[1].error.message, agent.memory.steps[2].error.message
    assert "tool 'divide' failed: ZeroDivisionError" in first and "line 1" in first
    assert "AgentToolCallError" in second and "add()" in second


async def test_async_host_tools_run_on_the_agents_loop(executor):
    agent = agent_for(executor, [code("r = slow_echo('hi', delay=0.05)\nfinal_answer(r)")])
    result = await agent.arun("Echo")
    assert result == {"text": "hi", "loop": id(asyncio.get_running_loop())}


async def test_syntax_errors_and_exceptions_become_observations(executor):
    agent = agent_for(executor, [code("def f(:\n  pass"), code("[][3]"), code("final_answer(7)")])
    assert await agent.arun("Go") == 7
    assert agent.memory.steps[1].error.message.startswith("SyntaxError")
    assert "IndexError" in agent.memory.steps[2].error.message


async def test_values_that_are_not_json_cross_as_their_repr(executor):
    result = await executor.run("len")
    assert repr(result.output) == "<built-in function len>" and "only data crosses" in result.logs
    await executor.send_variables({"data": b"\x00raw"})
    assert (await executor.run("data")).output == b"\x00raw"  # bytes have a form of their own


async def test_floats_and_tuples_keep_their_type_both_ways(executor):
    agent = agent_for(executor, [code("half = divide(10, 2)\nprint(repr(half), repr(divide(*pair)))"),
                                 code("final_answer((half, 2.0, [1.0]))")])
    answer = await agent.arun("Halve", additional_args={"pair": (9.0, 3)})
    assert answer == (5.0, 2.0, [1.0]) and type(answer[0]) is float
    assert "5.0 3.0" in agent.memory.steps[1].observations
    assert repr((await executor.run("pair")).output) == "(9.0, 3)"


async def test_sync_run_twice_reuses_the_sandbox(executor):
    # agent.run() makes an event loop per call; the executor must survive that.
    def sync_runs():
        agent = agent_for(executor, [code("final_answer(add(1, 1))"), code("final_answer(add(2, 2))")])
        return agent.run("a"), agent.run("b")

    restarts = executor.restarts
    assert await asyncio.to_thread(sync_runs) == (2, 4)
    assert executor.restarts == restarts


# -- limits and recovery ---------------------------------------------------------------------
async def test_endless_loop_is_stopped_and_state_is_kept(executor):
    agent = agent_for(executor, [code("kept = 41"), code("while True: pass"), code("final_answer(kept + 1)")])
    with time_limit(executor, 1.5):
        started = time.monotonic()
        assert await agent.arun("Loop") == 42
    assert time.monotonic() - started < 10
    message = agent.memory.steps[2].error.message
    assert "1.5 s time limit" in message and "Variables defined before that are kept" in message


async def test_a_long_sleep_is_interrupted_and_state_is_kept(executor):
    await executor.run("slept = 'kept'")
    with time_limit(executor, 1):
        started = time.monotonic()
        error = (await executor.run("import time\ntime.sleep(60)")).error
    assert "time limit" in error and "kept" in error and time.monotonic() - started < 5
    assert (await executor.run("slept")).output == "kept"


async def test_time_limit_stops_code_waiting_for_a_tool(executor):
    agent = agent_for(executor, [code("kept = 1\nwait_long(60)"), code("final_answer(kept)")])
    with time_limit(executor, 1):
        started = time.monotonic()
        assert await agent.arun("Wait") == 1
    assert time.monotonic() - started < 10
    assert "time limit" in agent.memory.steps[1].error.message


async def test_jspi_bridge_calls_tools_and_stops_loops():
    # The bridge the browser uses when it is not cross-origin isolated.
    executor = sandbox.DenoSandboxExecutor(bridge="jspi", limits=ExecutionLimits(timeout_seconds=1))
    try:
        await executor.send_tools({"add": add, "wait_long": wait_long})
        assert (await executor.run("x = add(1, b=2)\nx")).output == 3
        assert executor.last_ready["bridge"] == "jspi"
        assert "time limit" in (await executor.run("while True: pass")).error
        assert "time limit" in (await executor.run("wait_long(60)")).error
        assert (await executor.run("x")).output == 3
    finally:
        await executor.close()


async def test_code_that_ignores_interrupts_gets_a_fresh_sandbox(executor):
    stubborn = "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass"
    agent = agent_for(executor, [code("lost = 1"), code(stubborn), code("print(add(1, 2))\nlost"),
                                 code("final_answer('done')")])
    with time_limit(executor, 1):
        assert await agent.arun("Loop") == "done"
    assert "variables were lost" in agent.memory.steps[2].error.message
    assert "3" in agent.memory.steps[3].observations  # tools work in the new sandbox
    assert "NameError" in agent.memory.steps[3].error.message


async def test_user_interrupt_stops_the_code_and_the_sandbox_stays_usable(executor):
    agent = agent_for(executor, [code("before = 'kept'"), code("while True: pass")])
    task = asyncio.ensure_future(agent.arun("Loop", return_full_result=True))
    while len(agent.model.calls) < 2 or not executor.running:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    agent.interrupt()
    result = await asyncio.wait_for(task, 10)
    assert result.state == "interrupted"
    assert (await executor.run("before")).output == "kept"


async def test_an_interrupt_while_the_sandbox_starts_ends_the_run_before_its_code():
    """The user interrupts a run whose sandbox is still booting: the run ends as interrupted without
    running its code (it would otherwise loop until its time limit), and the sandbox then serves."""
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=600))
    try:
        run = asyncio.ensure_future(executor.run("started = True\nwhile True: pass"))
        while not executor.running:  # the run is sent; booting Pyodide takes far longer than the interrupt
            await asyncio.sleep(0.001)
        executor.request_interrupt()
        result = await asyncio.wait_for(run, 120)
        assert "interrupted before its code started" in result.error
        assert "NameError" in (await executor.run("started")).error
        assert (await executor.run("6 * 7")).output == 42
        assert executor.restarts == 0
    finally:
        await executor.close()


async def test_an_interrupt_asked_before_the_run_reaches_the_sandbox_stops_that_run_only(executor):
    """Ctrl+C right after a step was asked for, before its code was sent (the program's loop and the
    sandbox's are busy): the interrupt waits for that run and stops it; the variables stay, and an
    interrupt asked while no run is on its way stops nothing later."""
    await executor.run("kept = 7")
    restarts = executor.restarts
    executor.host.call_soon(time.sleep, 0.5)  # the sandbox's loop is busy for a moment
    run = asyncio.ensure_future(executor.run("while True: pass"))
    await asyncio.sleep(0)  # the run is asked for; its code is not sent yet
    assert not executor.running
    executor.request_interrupt()
    result = await asyncio.wait_for(run, 60)
    # Stopped by the interrupt, not the time limit, and said so wherever it landed (in the code, or in
    # the sandbox's own Python just before it).
    assert "the run was interrupted" in result.error and "Variables defined before that are kept" in result.error, \
        result.error
    assert "time limit" not in result.error, result.error
    executor.request_interrupt()  # nothing on its way: nothing to stop
    await asyncio.sleep(0.2)
    assert (await executor.run("kept")).output == 7
    assert executor.restarts == restarts, list(executor.logs)


async def test_interrupts_that_land_after_the_code_has_stopped_lose_nothing(executor):
    """Stopping a step sends more than one interrupt (the user's, the cancelled step's), and the
    last may reach the sandbox when the code is over and its answer is being encoded. Nothing of
    the sandbox may break then: it answers, and keeps its variables."""
    await executor.run("kept = 'yes'")
    restarts = executor.restarts
    slow_answer = "try:\n    while True: pass\nexcept KeyboardInterrupt:\n    pass\n'x' * 3_000_000"
    for _ in range(3):
        run = asyncio.ensure_future(executor.run(slow_answer))
        while not executor.running:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        for _ in range(40):  # interrupts while the code catches the first, then while its answer is encoded
            executor.request_interrupt()
            await asyncio.sleep(0.005)
        result = await asyncio.wait_for(run, 30)
        assert result.error is None or "interrupted" in result.error or "stopped" in result.error, result.error
    assert (await executor.run("kept")).output == "yes"
    assert executor.restarts == restarts, list(executor.logs)


async def test_interrupt_from_another_thread_stops_a_sync_run(executor):
    agent = agent_for(executor, [code("while True: pass")])
    run = asyncio.ensure_future(asyncio.to_thread(agent.run, "Loop", return_full_result=True))
    while not executor.running:
        await asyncio.sleep(0.05)
    agent.interrupt()
    assert (await asyncio.wait_for(run, 10)).state == "interrupted"
    assert (await executor.run("6 * 7")).output == 42


async def test_a_killed_process_is_replaced_and_the_model_is_told():
    executor = sandbox.DenoSandboxExecutor()
    try:
        assert (await executor.run("x = 1\nx")).output == 1
        executor.host.call_soon(executor.host.kill)
        await asyncio.sleep(0.5)
        result = await executor.run("2 + 2")
        assert result.output == 4 and "variables were lost" in result.logs
    finally:
        await executor.close()


def test_old_snapshots_are_pruned_to_the_most_recently_used(tmp_path):
    from wasm_agent.executor.sandbox_launch import SnapshotCache

    cache = SnapshotCache("deno", sandbox.DEFAULT_PYODIDE_DIR, cache_dir=tmp_path)
    for age in range(7):  # one file a version, the first one newest
        path = tmp_path / f"sandbox-snapshot-{age:020d}.bin"
        path.write_bytes(b"s")
        os.utime(path, (1_000_000 - age * 100, 1_000_000 - age * 100))
    (tmp_path / "other.txt").write_text("not ours")
    cache.prune()
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["other.txt", *(f"sandbox-snapshot-{age:020d}.bin" for age in range(SnapshotCache.KEEP))]
    for index in range(SnapshotCache.KEEP + 2):  # used within the hour: a running sandbox may read it again
        (tmp_path / f"sandbox-snapshot-recent{index:014d}.bin").write_bytes(b"s")
    cache.prune()
    assert len(list(tmp_path.glob("sandbox-snapshot-recent*.bin"))) == SnapshotCache.KEEP + 2


async def test_a_broken_snapshot_is_dropped_and_the_sandbox_starts_cold(tmp_path):
    executor = sandbox.DenoSandboxExecutor(cache_dir=tmp_path)
    executor.snapshots.path.write_bytes(b"not a snapshot" * 100_000)
    try:
        result = await executor.run("6 * 7")
        assert (result.output, result.logs) == (42, "")
        assert executor.last_ready["snapshot"] is False and not executor.snapshots.path.exists()
    finally:
        await executor.close()


def test_missing_pyodide_says_to_run_npm_ci(tmp_path):
    with pytest.raises(ExecutorUnavailableError, match="npm ci"):
        sandbox.DenoSandboxExecutor(pyodide_dir=tmp_path)


# -- attacks from generated code -------------------------------------------------------------
class Canary(http.server.BaseHTTPRequestHandler):
    hits: typing.ClassVar[list[str]] = []

    def do_GET(self):
        Canary.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"leaked")

    do_POST = do_GET

    def log_message(self, *args):
        pass


async def test_resume_rebuilds_sandbox_variables_without_calling_tools_again(executor, tmp_path):
    from wasm_agent import FileRunStore

    calls = []

    @tool
    def fetch_rate(currency: str) -> float:
        """An exchange rate.

        Args:
            currency: Its code.
        """
        calls.append(currency)
        return {"EUR": 1.25}[currency]

    def provider_down(messages):
        raise ConnectionError("offline")

    store = FileRunStore(tmp_path)
    first = agent_for(executor, [code("rate = fetch_rate('EUR')\nimport math"), provider_down],
                      tools=[fetch_rate], run_store=store)
    with pytest.raises(Exception, match="offline"):
        await first.arun("Convert 8 EUR")
    second = agent_for(executor, [code("final_answer(math.floor(8 * rate))")], tools=[fetch_rate], run_store=store)
    assert await second.aresume(first.run_id) == 10
    assert calls == ["EUR"]  # the replay answered fetch_rate from the saved run


@pytest.fixture(scope="module")
def canary():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canary)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


NO_EVAL = "Code generation from strings disallowed"


def js_attempt(expression: str) -> str:
    """Python for the sandbox that starts async JS and leaves how it ended in `js.attempt`."""
    source = (f"globalThis.attempt = 'pending'; (async () => {{ {expression} }})().then("
              "v => globalThis.attempt = 'ALLOWED: ' + String(v).slice(0, 80), "
              "e => globalThis.attempt = 'blocked: ' + (e && (e.name || e)))")
    return f"import js\njs.eval({source!r})"


def in_worker(body: str) -> str:
    """JS that runs `body` in a worker spawned from the sandbox: the attacker's way back to `Deno`."""
    inner = (f"(async () => {{ {body} }})().then(v => postMessage('ALLOWED: ' + String(v).slice(0, 80)), "
             "e => postMessage('blocked: ' + (e && (e.name || e))))")
    return js_attempt(
        f"const w = new Worker(URL.createObjectURL(new Blob([{json.dumps(inner)}])), {{type: 'module'}}); "
        "const r = await new Promise(ok => { w.onmessage = e => ok(e.data); "
        "w.onerror = e => { e.preventDefault(); ok('blocked: ' + e.message); }; }); "
        "w.terminate(); if (!r.startsWith('ALLOWED')) throw {name: r}; return r")


# name -> (Python run in the sandbox, what the refusal must mention)
ATTACKS = {
    "pyodide.http": ("import pyodide.http\npyodide.http.open_url('@URL@pyodide-http')", "Error"),
    "js.fetch": (js_attempt("return (await fetch('@URL@js-fetch')).status"), "TypeError"),
    "js.Deno": ("import js\njs.Deno.readTextFileSync('/etc/passwd')", "AttributeError"),
    "websocket": (js_attempt("new WebSocket('ws://127.0.0.1:1/'); return 1"), "NotCapable"),
    "node:fs import": (js_attempt("return (await import('node:fs')).readFileSync('/etc/hostname', 'utf8')"),
                       "blocked"),
    "worker asking for net": (js_attempt("new Worker('data:text/javascript,1', {type: 'module', "
                                         "deno: {permissions: {net: true}}}); return 1"), "NotCapable"),
    # A worker spawned from the sandbox has `Deno` again, and no permissions either.
    "worker fetch": (in_worker("return (await fetch('@URL@worker-fetch')).status"), "NotCapable"),
    "worker tcp": (in_worker("return await Deno.connect({hostname: '127.0.0.1', port: @PORT@})"), "NotCapable"),
    "worker read outside": (in_worker("return Deno.readTextFileSync('/etc/hostname')"), "NotCapable"),
    "worker read own files": (in_worker("return Deno.readTextFileSync('@PYPROJECT@')"), "NotCapable"),
    "worker node:fs": (in_worker("return (await import('node:fs')).readFileSync('@PYPROJECT@', 'utf8')"),
                       "NotCapable"),
    "worker write": (in_worker("Deno.writeTextFileSync('/tmp/wasm-agent-pwned', 'x'); return 1"), "NotCapable"),
    "worker env": (in_worker("return Deno.env.get('WASM_AGENT_TEST_SECRET')"), "NotCapable"),
    "worker run": (in_worker("return new Deno.Command('id').outputSync().code"), "NotCapable"),
    "worker ffi": (in_worker("return Deno.dlopen('libc.so.6', {})"), "NotCapable"),
    "worker sys": (in_worker("return Deno.hostname()"), "NotCapable"),
    "worker args": (in_worker("if (Deno.args.length) return Deno.args; throw {name: 'no args'}"), "no args"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_attack_is_blocked(executor, canary, name):
    attack, refusal = ATTACKS[name]
    attack = (attack.replace("@URL@", canary).replace("@PORT@", canary.rsplit(":", 1)[1].strip("/"))
              .replace("@PYPROJECT@", str(resources.PACKAGE_DIR.parent / "pyproject.toml")))
    result = await executor.run(attack)
    outcome = result.error or ""
    if NO_EVAL in outcome:  # the process refuses to make code from strings: the JS never ran
        outcome = f"{NO_EVAL}: {refusal}"
    elif "js.eval" in attack:
        for _ in range(200):
            outcome = str((await executor.run("import js\njs.attempt")).output)
            if outcome != "pending":
                break
            await asyncio.sleep(0.02)
    assert "ALLOWED" not in outcome and refusal in outcome, outcome
    assert Canary.hits == []
    assert not os.path.exists("/tmp/wasm-agent-pwned")
    assert (await executor.run("6 * 7")).output == 42


async def test_python_side_escapes_stay_inside(executor):
    checks = [
        ("import os\nos.environ.get('WASM_AGENT_TEST_SECRET')", None),
        ("open('/tmp/wasm-agent-pwned', 'w').write('x')", 1),   # Pyodide's in-memory file system
        ("import os\nsorted(os.listdir('/'))[:3]", None),
    ]
    for snippet, expected in checks:
        result = await executor.run(snippet)
        if expected is not None:
            assert result.output == expected
    assert (await executor.run("import os\nos.environ.get('WASM_AGENT_TEST_SECRET')")).output is None
    assert not os.path.exists("/tmp/wasm-agent-pwned")
    result = await executor.run("import subprocess\nsubprocess.run(['id'])")
    assert result.error and "Error" in result.error


async def test_forged_protocol_messages_are_ignored(executor, canary):
    forged = ("import js, os\n"
              "js.postMessage('{\"type\":\"result\",\"id\":999999,\"ok\":true,\"value\":{\"output\":1}}')\n"
              "js.postMessage('not json')\n"
              "js.postMessage('{\"type\":\"run\",\"id\":5,\"code\":\"1\"}')\n"
              "js.console.log('deadbeef {\"type\":\"result\"}')\n"
              "os.write(1, b'{\"type\":\"ready\"}\\n')\n"
              "print('still here')\n'done'")
    result = await executor.run(forged)
    assert (result.output, result.logs) == ("done", "still here\n")
    assert (await executor.run("6 * 7")).output == 42
    assert Canary.hits == []


async def test_code_cannot_spawn_a_worker_or_write_javascript_of_its_own(executor):
    """A worker spawned from the sandbox would have `Deno` (stdout, the process) again: there is no
    `Worker`, and no eval or Function constructor to write JS that would reach one another way."""
    restarts = executor.restarts
    result = await executor.run(in_worker("Deno.stdout.writeSync(new TextEncoder().encode('junk')); return 1"))
    assert NO_EVAL in result.error
    result = await executor.run("import js\njs.Worker.new('data:text/javascript,1')")
    assert "AttributeError" in result.error and "Worker" in result.error
    result = await executor.run("from pyodide.code import run_js\nrun_js('import(\"node:process\")')")
    assert NO_EVAL in result.error
    assert executor.restarts == restarts
    assert (await executor.run("6 * 7")).output == 42


async def test_output_floods_are_capped(executor):
    result = await executor.run("for i in range(200000): print('flood', i)\n"
                                "import js\nfor i in range(1000): js.console.log('x' * 10000)\n"
                                "import os\nos.write(1, b'y' * 10**7)\n'x' * 10**6")
    assert len(result.logs) < executor.limits.max_output_chars + 500 and "output truncated" in result.logs
    assert len(result.output) == 10**6
    assert (await executor.run("6 * 7")).output == 42


async def test_deep_recursion_and_huge_tool_arguments_fail_cleanly(executor):
    await executor.send_tools({"add": add})  # the shared executor may hold another test's tools
    assert "RecursionError" in (await executor.run("def f(n): return f(n + 1)\nf(0)")).error
    error = (await executor.run("add('x' * 20_000_000, 1)")).error
    assert "the tool call cannot be sent" in error and "over the" in error
    assert (await executor.run("6 * 7")).output == 42


async def test_memory_bomb_is_contained(executor):
    result = await executor.run("a = []\nwhile True: a.append(bytes(range(256)) * 400_000)")
    assert result.error and ("memory" in result.error.lower() or "MemoryError" in result.error)
    assert (await executor.run("6 * 7")).output == 42


async def test_exit_calls_do_not_take_the_agent_down(executor):
    assert "SystemExit" in (await executor.run("import sys\nsys.exit(3)")).error
    assert "variables were lost" in (await executor.run("import os\nos._exit(0)")).error
    assert (await executor.run("6 * 7")).output == 42


CTRL_C_PROGRAM = """
import asyncio, signal
from wasm_agent.executor.sandbox import DenoSandboxExecutor

async def main():
    executor = DenoSandboxExecutor()
    await executor.run("kept = 7")
    step = asyncio.ensure_future(executor.run("while True: pass"))
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, executor.request_interrupt)
    print("running", flush=True)
    print("step:", (await step).error, flush=True)
    print("kept:", (await executor.run("kept")).output, flush=True)
    await executor.close()

asyncio.run(main())
"""


def test_ctrl_c_in_a_terminal_reaches_the_program_not_the_sandbox_process():
    """A terminal's Ctrl+C signals the whole foreground process group: the sandbox process is not in
    it, so the program can interrupt the code and the variables stay."""
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", CTRL_C_PROGRAM], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout.readline().strip() == "running"
        time.sleep(1)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "step: Execution stopped: the run was interrupted" in out, out + err
    assert "kept: 7" in out


async def test_executors_on_one_host_are_separate_sandboxes_of_one_process():
    host = sandbox.SandboxHost()
    first, second = (sandbox.DenoSandboxExecutor(host=host, limits=ExecutionLimits(timeout_seconds=2))
                     for _ in range(2))
    try:
        await first.send_tools({"add": add})
        await second.send_tools({"divide": divide})
        assert (await first.run("secret = add(40, 2)\nsecret")).output == 42
        assert "NameError" in (await second.run("secret")).error  # nothing crosses between them
        assert "NameError" in (await second.run("add(1, 2)")).error  # nor do their tools
        assert (await second.run("divide(9, 3)")).output == 3.0
        assert "time limit" in (await second.run("while True: pass")).error
        assert (await first.run("secret")).output == 42  # the other sandbox's stop touched nothing here
        assert first.host.pid == second.host.pid is not None
        await second.close()
        assert (await first.run("secret + 1")).output == 43  # closing one leaves the process to the other
    finally:
        await first.close()
        await host.aclose()
    assert host.pid is None


async def test_pyodide_in_a_folder_whose_path_needs_escaping_in_a_url_boots(tmp_path):
    """Each worker imports Pyodide's JS as modules from its folder (a file: URL made from the path)."""
    folder = tmp_path / "py odide #1 ?%"
    folder.mkdir()
    for name in sandbox.DEFAULT_PYODIDE_DIR.iterdir():
        if name.is_file():
            os.link(name, folder / name.name)
    executor = sandbox.DenoSandboxExecutor(pyodide_dir=folder, cache_dir=tmp_path / "cache")
    try:
        assert (await executor.run("x = 6 * 7\nx")).output == 42
        assert executor.last_ready["snapshot"] is True  # the snapshot was made and started from, same folder
        await executor.reset()
        assert "NameError" in (await executor.run("x")).error  # a fresh worker, booted the same way
    finally:
        await executor.close()
