"""Nothing crosses from one run to the next in the browser sandbox, and nothing the code posts
itself reaches the host: attacks from generated code, with and without COOP/COEP, each checking
what the attacker wanted did not happen and that the sandbox then answers as before."""

from __future__ import annotations

import re
import time

import pytest

# Run after final_answer (in `finally`), so the step that does it still ends: what a later run would
# rely on is changed, and a timer keeps calling a tool of the page.
TAMPER = """
leftover = 1
refusals = []
try:
    final_answer('first')
finally:
    import builtins, sys, traceback, asyncio, json, js
    import pyodide.ffi
    from pyodide.ffi import create_proxy
    import wasm_agent.executor.sandbox_main as sandbox_main
    import wasm_agent.executor.runner as runner
    from wasm_agent.executor.base import CodeOutput
    def steal():
        try:
            echo('stolen')
        except Exception as error:
            refusals.append(str(error))
    js.setInterval(create_proxy(steal), 1)
    builtins.sorted = lambda *args, **kwargs: 'forged'
    runner.CodeRunner.run = lambda self, code: CodeOutput(output='forged', is_final_answer=True)
    sandbox_main.SandboxSession._call_tool = lambda self, name, args, kwargs: 'forged'
    pyodide.ffi.run_sync = lambda *args: 'forged'
    traceback.format_exception_only = lambda *args: ['forged']
    asyncio.run = lambda *args: 'forged'
    json.loads = lambda *args, **kwargs: {'type': 'tool_result', 'id': 1, 'ok': True, 'value': 'forged'}
    sys.modules.clear()
"""


def tool_calls(sandbox) -> list:
    return sandbox.evaluate("sandboxTest.toolCalls.map((call) => [call.name, call.args, call.kwargs])")


def test_reset_after_code_gives_a_worker_no_earlier_code_touched(sandbox):
    before = len(tool_calls(sandbox))
    first = sandbox.run(TAMPER)
    assert (first["output"], first["is_final_answer"]) == ("first", True), first
    time.sleep(0.5)  # the timer's chance, between the runs
    sandbox.evaluate("sandboxTest.client.reset()")
    result = sandbox.run("final_answer([echo('legit'), sorted([2, 1]), 'leftover' in dir()])")
    assert (result["output"], result["is_final_answer"]) == (["legit", [1, 2], False], True), result
    calls = tool_calls(sandbox)[before:]
    assert all("stolen" not in str(call) for call in calls), calls
    assert sandbox.run("add(2, 2)")["output"] == 4


def test_a_rebound_final_answer_tool_or_print_is_restored_for_the_next_step(sandbox):
    sandbox.run("final_answer = None\nadd = 'not a tool'\nprint = None")
    result = sandbox.run("print('printing works')\nfinal_answer(add(2, 3))")
    assert (result["output"], result["is_final_answer"], result["logs"]) == (5, True, "printing works\n"), result


def test_code_left_running_between_steps_calls_no_tool(sandbox):
    before = len(tool_calls(sandbox))
    sandbox.run("import js\nfrom pyodide.ffi import create_proxy\nticks, refusals = [0], []\n"
                "def tick():\n    ticks[0] += 1\n    try:\n        echo('from a timer')\n"
                "    except Exception as error:\n        refusals.append(str(error))\n"
                "timer = js.setInterval(create_proxy(tick), 1)")
    time.sleep(1.0)
    between = tool_calls(sandbox)[before:]  # what reached the page while no step ran
    ticks, refusals = sandbox.run("js.clearInterval(timer)\nticks[0], refusals")["output"]
    assert all("from a timer" not in str(call) for call in between), between
    # Refused by the worker's core (isolated), or unable even to wait for an answer (JSPI needs a
    # step's entry point to suspend): either way no call left the sandbox.
    assert all("only while a step's code runs" in refusal or "Cannot stack switch" in refusal
               for refusal in refusals), refusals
    if sandbox.mode == "isolated":  # the worker sleeps between requests: the timer got no CPU
        assert ticks < 20, ticks
    assert sandbox.run("add(1, 1)")["output"] == 2


def test_messages_the_code_posts_itself_are_dropped_even_deep_or_huge(sandbox):
    crashes = len(sandbox.events("crashed"))
    result = sandbox.run(
        "import js\n"
        "js.postMessage('{\"type\":\"result\",\"id\":1,\"ok\":true,\"value\":' + '[' * 200000 + ']' * 200000 + '}')\n"
        "js.postMessage('{\"type\":\"tool_call\",\"id\":1,\"name\":\"echo\",\"args\":' + '[' * 200000 + ']' * 200000 + '}')\n"
        "frame = js.Object.new()\nframe.k = 'guess'\nframe.m = '{\"type\":\"crashed\",\"reason\":\"forged\"}'\n"
        "js.postMessage(frame)\n"
        "from pyodide.ffi import to_js\nkept_here = 1\n"
        "event = to_js({'data': '{\"type\":\"reset\",\"id\":7}'}, dict_converter=js.Object.fromEntries)\n"
        "js.self.dispatchEvent(js.MessageEvent.new('message', event))\n"
        "'sent'", timeout_ms=20000)
    assert result["output"] == "sent", result
    assert len(sandbox.events("crashed")) == crashes
    assert sandbox.run("kept_here")["output"] == 1  # the `reset` it dispatched itself was not taken
    assert sandbox.run("add(20, 22)")["output"] == 42


def test_deeply_nested_values_cross_as_a_short_repr(sandbox):
    result = sandbox.run("x = []\nfor _ in range(5000):\n    x = [x]\nx", timeout_ms=20000)
    assert result["error"] is None, result
    depth, value = 0, result["output"]
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth == 100 and value["$repr"].startswith("[[["), value
    assert sandbox.run("add(1, 2)")["output"] == 3


# The code makes the sandbox's own core frame a malformed message: the next object the core encodes (the
# step's result) serializes as FORGED (Object.prototype.toJSON, once; later calls leave objects as they are).
HIJACK_NEXT_FRAME = """
import js
from pyodide.ffi import create_proxy, to_js
def plain(value):
    return to_js(value, dict_converter=js.Object.fromEntries)
hijacked = [0]
def forged_json(this, key):
    hijacked[0] += 1
    return FORGED if hijacked[0] == 1 else this
js.Object.defineProperty(js.Object.prototype, 'toJSON',
                         plain({'value': create_proxy(forged_json, capture_this=True), 'configurable': True}))
'hijacked'
"""
MALFORMED_FRAMES = {
    "not an object": "'just text'",
    "an unknown kind": "plain({'type': 'spell', 'id': 1})",
    "fields of the wrong type": "plain({'type': 'result', 'id': 'one', 'ok': 'yes', 'value': None})",
    "a ready out of turn": "plain({'type': 'ready', 'startup_ms': 'soon'})",
    "oversized": "'x' * 17_000_000",
    "deeply nested": "js.JSON.parse('[' * 1000 + ']' * 1000)",
}


@pytest.mark.parametrize("forged", MALFORMED_FRAMES.values(), ids=MALFORMED_FRAMES.keys())
def test_a_malformed_message_from_the_sandbox_fails_only_its_step(sandbox, forged):
    """Whatever the sandbox's worker sends the page (framed by a core whose JS the code changed, or posted by the
    code itself), the worst is that the step fails with a clear error: the page and the host live, the sandbox is
    replaced, and the next step runs."""
    sandbox.run("kept = 1")
    result = sandbox.run(HIJACK_NEXT_FRAME.replace("FORGED", forged), timeout_ms=20000)
    assert result["error"] and re.search(r"sandbox (crashed|sent a message that could not be read)", result["error"]), \
        result
    assert sandbox.run("'kept' in dir()")["output"] is False  # a fresh worker: the changed core is gone
    assert sandbox.run("add(40, 2)")["output"] == 42
    assert not [event for event in sandbox.events("crashed") if event.get("fatal")]


def test_junk_the_code_posts_itself_is_dropped_and_the_step_answers(sandbox):
    """Messages the code posts on its own, of any type (deep, shared memory, ports, not the protocol), reach
    nothing: the step answers, and the sandbox keeps its state."""
    crashes = len(sandbox.events("crashed"))
    sandbox.run("kept = 1")
    result = sandbox.run(
        "import js\nfrom pyodide.ffi import to_js\n"
        "deep = js.Array.new()\nfor _ in range(100_000):\n    deep = js.Array.of(deep)\n"
        "sent = []\n"
        "for junk in [deep, getattr(js, 'SharedArrayBuffer', js.ArrayBuffer).new(8), js.MessageChannel.new().port1, 12, None,\n"
        "             to_js({'k': 'guess', 'm': 5}, dict_converter=js.Object.fromEntries), js.Symbol]:\n"
        "    try:\n        js.postMessage(junk)\n        sent.append('sent')\n"
        "    except Exception as error:\n        sent.append(type(error).__name__)\n"
        "len(sent)", timeout_ms=20000)
    assert result["output"] == 7, result
    assert sandbox.run("kept + add(1, 2)")["output"] == 4
    assert len(sandbox.events("crashed")) == crashes


def test_code_that_replaces_atomics_neither_wakes_the_worker_nor_breaks_its_tools(sandbox):
    """The worker's core waits on shared memory with Atomics (between requests, for a tool's answer): code that
    replaces Atomics' functions in its scope changes nothing of that."""
    sandbox.run("import js\nfrom pyodide.ffi import create_proxy\nticks = [0]\n"
                "def tick():\n    ticks[0] += 1\n"
                "timer = js.setInterval(create_proxy(tick), 1)\n"
                "for name in ['load', 'wait', 'store', 'notify']:\n"
                "    setattr(js.Atomics, name, create_proxy(lambda *args: -1))")
    time.sleep(1.0)
    ticks = sandbox.run("js.clearInterval(timer)\nticks[0]")["output"]
    if sandbox.mode == "isolated":  # the worker sleeps between requests: the timer got no CPU
        assert ticks < 20, ticks
    assert sandbox.run("add(20, 22)")["output"] == 42
