"""The memory watch of a Deno process that serves several sandboxes: each worker's own memory figure says
which sandbox grew, so only that one is replaced, also while other sandboxes of the process run steps at
the same moment; they finish their runs with their variables."""

import asyncio

import pytest
from deno_sandbox import require_deno_sandbox

from wasm_agent import CodeAgent, ScriptedModel, tool
from wasm_agent.executor import ExecutionLimits

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()

LIMITS = ExecutionLimits(timeout_seconds=60, max_memory_mb=32)  # each replaced past 32 + 512 MB
# Code that grows its worker's memory past the limit, outside the wasm cap, then goes on computing, as a
# runaway step would (its own deadline is far off).
SPIN = """
end = time.time() + 30
while time.time() < end:
    pass
'done'"""
# 768 MiB of JS arrays (six of 2**24 doubles, 128 MiB each) on the worker's JS heap.
GROW_JS_HEAP = """import js, time
held = [js.Array.from_(js.Float64Array.new(1 << 24)) for _ in range(6)]""" + SPIN
# 768 MiB of wasm memories made by the code, filled; then, to hide them, it replaces what a measure of its
# memory might read: the memories' `buffer` getter, Reflect.apply, Atomics.store, WeakRef's deref, the clock.
GROW_WASM_AND_HIDE_IT = """import js, time
from pyodide.ffi import create_proxy, to_js
pages = to_js({"initial": 4096}, dict_converter=js.Object.fromEntries)  # 256 MiB each
held = [js.WebAssembly.Memory.new(pages) for _ in range(3)]
for memory in held:
    js.Uint8Array.new(memory.buffer).fill(1)
nothing = create_proxy(lambda *args: 0)
empty = to_js({"get": create_proxy(lambda *args: 0)}, dict_converter=js.Object.fromEntries)
js.Object.defineProperty(js.WebAssembly.Memory.prototype, "buffer", empty)
js.Reflect.apply = js.Atomics.store = js.WeakRef.prototype.deref = js.performance.now = nothing
js.Math.floor = js.Math.ceil = js.Math.min = nothing""" + SPIN


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


@pytest.mark.parametrize("growth", [GROW_JS_HEAP, GROW_WASM_AND_HIDE_IT], ids=["js_heap", "wasm_hidden"])
async def test_only_the_sandbox_that_grew_is_replaced_while_another_runs_a_step_at_the_same_time(growth):
    hog_running, hog_done = asyncio.Event(), asyncio.Event()

    @tool
    def hog_finished() -> bool:
        """Whether the other agent's memory-hungry step is over."""
        return hog_done.is_set()

    @tool
    def started() -> str:
        """Say that this step has started."""
        hog_running.set()
        return "started"

    async def grow_once_the_other_step_runs(messages):
        await asyncio.wait_for(hog_running.wait(), 120)
        return code(growth)

    def after_the_growth(messages):
        hog_done.set()
        return code("final_answer(6 * 7)")

    # The patient agent's second step computes (its worker busy, a run pending) for as long as the hog's
    # step lasts, and a little longer; its third step needs the variables of the first two.
    patient_steps = [
        code("n = 6\nsquare = n * n\nprint(square)"),
        code("import time\nstarted()\ncount = 0\ndeadline = time.time() + 120\n"
             "while not hog_finished() and time.time() < deadline:\n"
             "    for _ in range(20_000):\n        count += 1\n"
             "end = time.time() + 2\nwhile time.time() < end:\n    count += 1\nprint(count > 0)"),
        code("final_answer(square + n + (count > 0))"),
    ]
    hog_executor = sandbox.DenoSandboxExecutor(limits=LIMITS)
    patient_executor = sandbox.DenoSandboxExecutor(host=hog_executor.host, limits=LIMITS)
    hog = CodeAgent([], ScriptedModel([grow_once_the_other_step_runs, after_the_growth]),
                    executor=hog_executor, verbosity_level=0)
    patient = CodeAgent([started, hog_finished], ScriptedModel(patient_steps), executor=patient_executor,
                        additional_authorized_imports=["time"], verbosity_level=0)
    try:
        assert (await patient_executor.run("1")).output == 1  # both sandboxes in the one process, booted
        assert patient_executor.host is hog_executor.host
        results = await asyncio.gather(patient.arun("Compute"), hog.arun("Grow"), return_exceptions=True)
        assert results == [43, 42]
        grew = hog.memory.action_steps[0]
        assert grew.error is not None and "more than 32 MB of memory" in grew.error.message
        assert hog_executor.restarts == 1
        assert patient_executor.restarts == 0
        assert all(step.error is None for step in patient.memory.action_steps)
        assert patient.memory.action_steps[1].observations.startswith("Execution logs:\nTrue\n")
    finally:
        await patient_executor.close()
        await hog_executor.close()
