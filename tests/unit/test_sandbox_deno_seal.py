"""Nothing crosses from one run or agent to the next in the Deno sandbox, and nothing the sandbox
sends can break the host: attacks from generated code, each checking what the attacker wanted did
not happen and that the agent then finishes its run."""

import asyncio
import time

import pytest
from deno_sandbox import STUBBORN, cpu_seconds, require_deno_sandbox

from wasm_agent import CodeAgent, FileRunStore, ScriptedModel, tool
from wasm_agent.executor import ExecutionLimits
from wasm_agent.platform import block_on

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()

CALLS: list[str] = []


@tool
def record(text: str) -> str:
    """Remember a text; the tool an attacker wants to call in someone else's run.

    Args:
        text: What to remember.
    """
    CALLS.append(text)
    return text


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


# Everything an earlier run can change in its interpreter that a later one would rely on; run after
# final_answer (in `finally`), so the run that does it still ends. A timer keeps calling the tool.
TAMPER = """
try:
    final_answer('first')
finally:
    import builtins, sys, traceback, asyncio, json
    import pyodide.ffi
    import wasm_agent.executor.sandbox_main as sandbox_main
    import wasm_agent.executor.runner as runner
    from wasm_agent.executor.base import CodeOutput
    import js
    from pyodide.ffi import create_proxy
    builtins.sorted = lambda *args, **kwargs: 'forged'
    builtins.final_answer = lambda *args: 'forged'
    runner.CodeRunner.run = lambda self, code: CodeOutput(output='forged', is_final_answer=True)
    sandbox_main.SandboxSession._call_tool = lambda self, name, args, kwargs: 'forged'
    pyodide.ffi.run_sync = lambda *args: 'forged'
    traceback.format_exception_only = lambda *args: ['forged']
    asyncio.run = lambda *args: 'forged'
    json.loads = lambda *args, **kwargs: {'type': 'tool_result', 'id': 1, 'ok': True, 'value': 'forged'}
    js.setInterval(create_proxy(lambda: record('stolen')), 1)
    sys.modules.clear()
"""

CHECK = "final_answer([record('legit'), sorted([2, 1]), 'leftover' in dir()])"
CLEAN = ["legit", [1, 2], False]


@pytest.fixture(scope="module")
def executor():
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=20))
    yield executor
    block_on(executor.close())


@pytest.fixture(autouse=True)
def no_calls():
    CALLS.clear()


async def test_a_new_run_starts_from_a_sandbox_no_earlier_code_touched(executor):
    agent = CodeAgent([record], ScriptedModel([code("leftover = 1\n" + TAMPER), code(CHECK)]), executor=executor)
    assert await agent.arun("Tamper") == "first"
    resets = executor.resets
    await asyncio.sleep(0.3)  # the timer's chance, between the runs
    assert await agent.arun("Check") == CLEAN
    assert CALLS == ["legit"] and executor.resets == resets + 1


async def test_a_new_agent_on_a_used_sandbox_starts_from_a_fresh_one(executor):
    first = CodeAgent([record], ScriptedModel([code("leftover = 1\n" + TAMPER)]), executor=executor)
    assert await first.arun("Tamper") == "first"
    second = CodeAgent([record], ScriptedModel([code(CHECK)]), executor=executor)
    assert await second.arun("Check") == CLEAN
    assert CALLS == ["legit"]


async def test_a_resumed_run_starts_from_a_fresh_sandbox(executor, tmp_path):
    def provider_down(messages):
        raise ConnectionError("offline")

    store = FileRunStore(tmp_path)
    first = CodeAgent([record], ScriptedModel([code("leftover = 1\n" + TAMPER), code("kept = 2"), provider_down]),
                      executor=executor, run_store=store)
    assert await first.arun("Tamper") == "first"
    with pytest.raises(Exception, match="offline"):
        await first.arun("Interrupted")
    second = CodeAgent([record], ScriptedModel([code("final_answer([kept, sorted([2, 1]), 'leftover' in dir()])")]),
                       executor=executor, run_store=store)
    assert await second.aresume(first.run_id) == [2, [1, 2], False]
    assert CALLS == []


async def test_a_rebound_final_answer_or_tool_is_restored_for_the_next_step(executor):
    agent = CodeAgent([record], ScriptedModel([
        code("final_answer = None\nrecord = 'not a tool'\nprint = None"),
        code("print('printing works')\nfinal_answer(record('again'))"),
    ]), executor=executor)
    assert await agent.arun("Rebind") == "again"
    assert CALLS == ["again"] and "printing works" in agent.memory.steps[2].observations


async def test_code_left_running_between_steps_gets_no_cpu_and_calls_no_tool(executor):
    await executor.send_tools({"record": record})
    await executor.run("import js\nfrom pyodide.ffi import create_proxy\nticks, refusals = [0], []\n"
                       "def tick():\n    ticks[0] += 1\n    try:\n        record('from a timer')\n"
                       "    except Exception as error:\n        refusals.append(str(error))\n"
                       "timer = js.setInterval(create_proxy(tick), 1)")
    await asyncio.sleep(1.0)
    assert CALLS == []  # no tick called the tool while no step was under way
    ticks, refusals = (await executor.run("js.clearInterval(timer)\nticks[0], refusals")).output
    assert ticks < 20, ticks  # asleep between the steps, not ~250 ticks a second
    assert all("only while a step's code runs" in refusal for refusal in refusals), refusals
    assert (await executor.run("6 * 7")).output == 42


async def test_the_sandbox_worker_holds_nothing_of_denos_runtime(executor):
    names = ["Deno", "Worker", "SharedWorker", "BroadcastChannel", "WebSocket", "WebSocketStream", "EventSource",
             "caches", "process", "Buffer", "require", "close", "setImmediate"]
    found = (await executor.run(f"import js\n[name for name in {names!r} if hasattr(js, name)]")).output
    assert found == []
    navigator = (await executor.run("import js\n[hasattr(js.navigator, 'locks'), hasattr(js.navigator, 'gpu')]")).output
    assert navigator == [False, False]
    for attempt in ["import js\njs.eval('Deno')", "import js\njs.Function.new('return 1')()",
                    "import js\njs.setTimeout.constructor.new('return 1')()",
                    "from pyodide.code import run_js\nrun_js('1')"]:
        assert "Code generation from strings disallowed" in (await executor.run(attempt)).error
    assert (await executor.run("6 * 7")).output == 42


async def test_messages_the_code_posts_itself_are_dropped_even_deep_or_huge(executor):
    restarts = executor.restarts
    result = await executor.run(
        "import js\n"
        "js.postMessage('{\"type\":\"result\",\"id\":1,\"ok\":true,\"value\":' + '[' * 200000 + ']' * 200000 + '}')\n"
        "js.postMessage('{\"type\":\"log\",\"text\":\"' + 'x' * 17_000_000 + '\"}')\n"
        "frame = js.Object.new()\nframe.k = 'guess'\nframe.m = '{\"type\":\"crashed\",\"reason\":\"forged\"}'\n"
        "js.postMessage(frame)\n'sent'")
    assert result.output == "sent" and executor.restarts == restarts
    assert not any("forged" in line for line in executor.logs)


async def test_deeply_nested_values_cross_as_a_repr_and_the_step_goes_on(executor):
    await executor.send_tools({"record": record})
    result = await executor.run("x = []\nfor _ in range(5000):\n    x = [x]\nx")
    assert result.error is None and repr(result.output).startswith("[[[")
    result = await executor.run("record(x)")
    assert result.error is None or "record" in result.error
    assert (await executor.run("6 * 7")).output == 42


async def test_wasm_memory_is_capped_by_default():
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=30))
    try:
        assert executor.limits.max_memory_mb is None
        result = await executor.run(f"blob = bytearray({sandbox.DEFAULT_MEMORY_MB + 100} * 2**20)")
        assert "MemoryError" in result.error
        assert (await executor.run("6 * 7")).output == 42
    finally:
        await executor.close()


async def test_reset_replaces_the_sandbox_once_code_ran_and_only_then(executor):
    await executor.run("x = 1")
    resets = executor.resets
    await executor.reset()
    assert executor.resets == resets + 1 and "NameError" in (await executor.run("x")).error
    await executor.reset()
    await executor.send_variables({"y": 2})
    await executor.reset()  # no code ran since the last one: the variables are cleared in place
    assert executor.resets == resets + 2 and "NameError" in (await executor.run("y")).error


def _alive(pid: int) -> bool:
    """The process exists, even as a zombie (ended, not reaped)."""
    import os

    return os.path.exists(f"/proc/{pid}")


async def _idle_for(pids: list[int], seconds: float = 2.0) -> float:
    """CPU seconds these processes used over `seconds` of waiting."""
    before = sum(map(cpu_seconds, pids))
    await asyncio.sleep(seconds)
    return sum(map(cpu_seconds, pids)) - before


@pytest.mark.parametrize("stubborn", STUBBORN.values(), ids=STUBBORN.keys())
async def test_a_step_that_ignores_its_time_limit_leaves_no_cpu_behind(stubborn):
    """Code that no interrupt stops past the time limit: its worker's process is ended (a worker spinning
    in wasm cannot be ended alone), nothing spins beside the fresh sandbox, and the next step runs."""
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=1))
    try:
        await executor.send_tools({"record": record})
        assert (await executor.run("x = 1")).output is None
        first = executor.host.pid
        error = (await executor.run(stubborn)).error
        assert "did not stop" in error and "variables were lost" in error
        assert (await executor.run("6 * 7")).output == 42  # a fresh worker, in a fresh process
        deadline = time.monotonic() + 10
        while first in executor.host.pids and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert executor.host.pids == [executor.host.pid] != [first] and executor.host.retired == 1
        assert not _alive(first)  # killed and reaped: no zombie left
        await asyncio.sleep(0.5)
        assert await _idle_for(executor.host.pids) < 0.5  # a spinning worker would take ~2 s of CPU here
        assert (await executor.run("record('after')")).output == "after"
        assert "NameError" in (await executor.run("x")).error
        second = executor.host.pid
    finally:
        await executor.close()
    assert not _alive(second) and executor.host.pids == []


async def test_a_sandbox_closed_while_its_code_ignores_interrupts_ends_its_process_after_the_other_run():
    """Closed mid-step with no time limit, a sandbox's stubborn worker retires its process; another
    sandbox of that process keeps its run's variables there until it releases its run, then moves."""
    host = sandbox.SandboxHost()
    stubborn = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=None), host=host)
    other = sandbox.DenoSandboxExecutor(host=host)
    try:
        assert (await other.run("x = 1")).output is None
        old = host.pid
        step = asyncio.ensure_future(stubborn.run(STUBBORN["catches every interrupt"]))
        await asyncio.sleep(1.5)
        await stubborn.close()
        assert "closed" in (await step).error
        deadline = time.monotonic() + 20
        while not host.retired and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert host.retired == 1 and host.pids == [old]  # the other run is not over
        assert (await other.run("x")).output == 1 and other.pid == old
        await other.release()
        while old in host.pids and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not _alive(old)
        assert "NameError" in (await other.run("x")).error and other.pid not in (old, None)
        await asyncio.sleep(0.5)
        assert await _idle_for(host.pids) < 0.5
    finally:
        await other.close()
        await host.aclose()
    assert host.pids == []


def _worker_threads(pid: int) -> list[str]:
    """Names of the process's threads that run Deno workers (one per worker until it ends)."""
    import os

    names = (open(f"/proc/{pid}/task/{task}/comm").read().strip() for task in os.listdir(f"/proc/{pid}/task"))
    return sorted(name for name in names if name.startswith("worker-"))


async def test_replaced_and_closed_sandboxes_leave_no_worker_behind():
    """Every worker the sandbox replaces (a reset after code ran) and
    every sandbox closed ends its thread, and with it its memory, instead of sleeping in the process for
    ever; the process keeps only the worker that serves."""
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=1))
    closed = sandbox.DenoSandboxExecutor(host=executor.host)
    try:
        assert (await closed.run("1")).output == 1
        await closed.close()
        for _ in range(3):
            assert (await executor.run("x = 1\nx")).output == 1
            await executor.reset()
        # A stopped endless loop (KeyboardInterrupt) replaces no worker; one that ignores every interrupt
        # ends with its process (the test above).
        assert "time limit" in (await executor.run("while True: pass")).error
        assert (await executor.run("6 * 7")).output == 42
        pid = executor.host.pid
        deadline = time.monotonic() + 30  # ended threads go within milliseconds; a loaded machine is slow
        while len(_worker_threads(pid)) > 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert len(_worker_threads(pid)) == 1, _worker_threads(pid)
    finally:
        await executor.close()


# Every worker of a Deno process starts from one memory snapshot, shared by them (a SharedArrayBuffer):
# code that found it could write into the memory of every later sandbox, here making math.pi 3.0.
POISON_SNAPSHOT = """
import pyodide_js, js, math, struct
from pyodide.ffi import to_js
snapshot = getattr(pyodide_js._api.config, '_loadSnapshot', None)
if snapshot is not None:
    heap_start = js.Uint32Array.new(snapshot.buffer, snapshot.byteOffset, 4)[1]
    snapshot.set(to_js(struct.pack('<d', 3.0)), heap_start + id(math.pi) + 8)
final_answer('poisoned' if snapshot is not None else 'not found')
"""


async def test_code_cannot_write_the_snapshot_that_later_sandboxes_start_from(executor):
    import math

    other = sandbox.DenoSandboxExecutor(host=executor.host)  # another agent's sandbox in the same process
    try:
        assert (await other.run("1")).output == 1
        agent = CodeAgent([record], ScriptedModel([code(POISON_SNAPSHOT), code("import math\nfinal_answer(math.pi)")]),
                          executor=executor)
        assert await agent.arun("Poison") == "not found"
        assert await agent.arun("Check") == math.pi and executor.last_ready["snapshot"] is True
        await other.reset()
        assert (await other.run("import math\nmath.pi")).output == math.pi
    finally:
        await other.close()


async def test_memory_one_sandbox_takes_costs_another_sandbox_of_the_process_nothing():
    """Code that fills the process's memory (JS memory, outside the wasm cap) gets its own sandbox replaced;
    another agent's sandbox in the same process, idle meanwhile, keeps its state."""
    limits = ExecutionLimits(timeout_seconds=20, max_memory_mb=32)  # replaced past 32 + 512 MB of growth
    hog = sandbox.DenoSandboxExecutor(limits=limits)
    victim = sandbox.DenoSandboxExecutor(host=hog.host, limits=limits)
    try:
        assert (await victim.run("kept = 1\nkept")).output == 1
        await hog.run("import js\nheld = []\nfor _ in range(7):\n    block = js.Uint8Array.new(100 * 2**20)\n"
                      "    block.fill(1)\n    held.append(block)\n'held'")
        await asyncio.sleep(1.0)
        assert hog.restarts == 1 and any("more than 32 MB" in line for line in hog.logs)
        assert (await victim.run("kept")).output == 1 and victim.restarts == 0
        assert (await hog.run("6 * 7")).output == 42
    finally:
        await victim.close()
        await hog.close()


async def test_a_resumed_run_with_no_code_to_replay_starts_from_a_fresh_sandbox(executor, tmp_path):
    def provider_down(messages):
        raise ConnectionError("offline")

    store = FileRunStore(tmp_path)
    stopped = CodeAgent([record], ScriptedModel([code("1 / 0"), provider_down]), executor=executor, run_store=store)
    with pytest.raises(Exception, match="offline"):
        await stopped.arun("Stopped before any code succeeded")
    first = CodeAgent([record], ScriptedModel([code("leftover = 1\n" + TAMPER)]), executor=executor)
    assert await first.arun("Tamper") == "first"
    await asyncio.sleep(0.3)  # the timer's chance
    second = CodeAgent([record], ScriptedModel([code(CHECK)]), executor=executor, run_store=store)
    assert await second.aresume(stopped.run_id) == CLEAN
    assert CALLS == ["legit"]


async def test_lone_surrogates_from_the_sandbox_neither_end_the_run_nor_its_record(executor, tmp_path):
    """JSON carries a lone surrogate ("\\ud800"), which code can print or return; UTF-8 has no form for it. It
    arrives as U+FFFD: the run is shown on a strict UTF-8 console, saved, and ends with its answer."""
    from wasm_agent.monitoring import AgentLogger, PlainConsole

    store = FileRunStore(tmp_path / "runs")
    with open(tmp_path / "console.txt", "w", encoding="utf-8") as console:
        agent = CodeAgent([record], ScriptedModel([code("print('a\\ud800b')\n'\\udfff'"),
                                                   code("final_answer(record('c\\udc00d'))")]),
                          executor=executor, run_store=store, logger=AgentLogger(console=PlainConsole(console)))
        assert await agent.arun("Surrogates") == "c\ufffdd"
    assert CALLS == ["c\ufffdd"] and "a\ufffdb" in (tmp_path / "console.txt").read_text()
    saved = (await store.list_runs())[0]
    assert (saved.status, saved.steps) == ("success", 2)


async def test_code_that_replaces_atomics_still_gets_no_cpu_between_steps(executor):
    """The worker sleeps between requests on shared memory (Atomics); code that replaces Atomics' functions in
    its scope does not wake it: its timers still get no CPU between the steps (nor memory the watch misses)."""
    await executor.run("import js\nfrom pyodide.ffi import create_proxy\nticks = [0]\n"
                       "def tick():\n    ticks[0] += 1\n"
                       "timer = js.setInterval(create_proxy(tick), 1)\n"
                       "js.Atomics.load = create_proxy(lambda *args: -1)\n"
                       "js.Atomics.wait = create_proxy(lambda *args: 'timed-out')")
    await asyncio.sleep(1.0)
    assert (await executor.run("js.clearInterval(timer)\nticks[0]")).output < 20
    assert (await executor.run("6 * 7")).output == 42


async def test_a_new_agent_that_continues_saved_memory_on_a_used_sandbox_starts_from_a_fresh_one(executor):
    """`reset=False` keeps an agent's memory; a new agent's first run (memory given to it, smolagents style) on a
    sandbox another agent's code used still starts from a fresh one."""
    first = CodeAgent([record], ScriptedModel([code("leftover = 1\n" + TAMPER)]), executor=executor)
    assert await first.arun("Tamper") == "first"
    await asyncio.sleep(0.3)  # the timer's chance
    second = CodeAgent([record], ScriptedModel([code(CHECK)]), executor=executor)
    assert await second.arun("Check", reset=False) == CLEAN
    assert CALLS == ["legit"]
