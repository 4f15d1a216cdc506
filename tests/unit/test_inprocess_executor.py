import asyncio

import pytest

from wasm_agent import ExecutionLimits, InProcessExecutor, tool
from wasm_agent.executor.runner import CodeRunner


@tool
def greet(name: str) -> str:
    """Greet someone.

    Args:
        name: Who.
    """
    return f"hello {name}"


async def test_last_expression_value_and_prints_are_returned():
    executor = InProcessExecutor()
    result = await executor.run("print('a', 1, sep='-')\n[1, 2][-1] * 3")
    assert (result.output, result.logs, result.error) == (6, "a-1\n", None)


async def test_output_is_capped_with_a_visible_note():
    executor = InProcessExecutor(limits=ExecutionLimits(max_output_chars=100))
    result = await executor.run("for i in range(10000):\n    print('x' * 50)")
    assert len(result.logs) < 400
    assert "output truncated" in result.logs and "limit is 100" in result.logs


async def test_tools_have_their_real_signature_and_docstring():
    executor = InProcessExecutor()
    await executor.send_tools({"greet": greet})
    result = await executor.run("import inspect\n(str(inspect.signature(greet)), greet.__doc__, greet('bo'))")
    signature, doc, value = result.output
    assert signature == "(name: str) -> str"
    assert doc.startswith("Greet someone.")
    assert value == "hello bo"


async def test_reset_forgets_variables_but_keeps_tools():
    executor = InProcessExecutor()
    await executor.send_tools({"greet": greet})
    await executor.run("x = 1")
    await executor.reset()
    result = await executor.run("x")
    assert "NameError" in result.error
    assert (await executor.run("greet('z')")).output == "hello z"


async def test_send_variables_defines_names():
    executor = InProcessExecutor()
    await executor.send_variables({"data": [1, 2]})
    assert (await executor.run("sum(data)")).output == 3


async def test_exit_is_reported_not_fatal():
    executor = InProcessExecutor()
    result = await executor.run("import sys\nsys.exit(3)")
    assert "SystemExit(3)" in result.error and "final_answer" in result.error
    assert (await executor.run("1 + 1")).output == 2


@pytest.mark.cpython_only
async def test_endless_loop_hits_the_time_limit_and_state_is_kept():
    executor = InProcessExecutor(limits=ExecutionLimits(timeout_seconds=0.2))
    result = await executor.run("kept = 'yes'\nwhile True:\n    pass")
    assert "time limit" in result.error and "kept" in result.error
    assert (await executor.run("kept")).output == "yes"
    await executor.close()


@tool
async def wait_a_bit(seconds: float) -> float:
    """Wait asynchronously.

    Args:
        seconds: How long.
    """
    await asyncio.sleep(seconds)
    return seconds


@pytest.mark.cpython_only
async def test_code_stuck_in_a_blocking_call_inline_stops_when_the_call_returns():
    executor = InProcessExecutor(limits=ExecutionLimits(timeout_seconds=0.1))
    result = await executor.run("import time\nkept = 1\ntime.sleep(0.4)\nnot_reached = 1")
    assert "time limit" in result.error
    assert (await executor.run("kept")).output == 1
    assert "NameError" in (await executor.run("not_reached")).error
    await executor.close()


@pytest.mark.cpython_only
async def test_async_tools_run_on_the_agent_loop_from_the_code_thread():
    executor = InProcessExecutor()
    await executor.send_tools({"wait_a_bit": wait_a_bit})
    result = await executor.run("wait_a_bit(0.01) * 2")
    assert result.output == 0.02
    await executor.close()


@pytest.mark.cpython_only
async def test_code_stuck_in_a_blocking_call_is_abandoned_and_state_reported_lost(monkeypatch):
    import wasm_agent.executor.inprocess as inprocess

    monkeypatch.setattr(inprocess, "_STOP_GRACE_SECONDS", 0.1)
    executor = InProcessExecutor(limits=ExecutionLimits(timeout_seconds=0.1))
    await executor.send_tools({"greet": greet, "wait_a_bit": wait_a_bit})  # an async tool: code runs on a thread
    result = await executor.run("import time\nlost = 1\ntime.sleep(1.5)")
    assert "variables were lost" in result.error
    assert "NameError" in (await executor.run("lost")).error
    assert (await executor.run("greet('again')")).output == "hello again"
    await executor.close()


def test_code_runner_alone_is_usable_without_an_event_loop():
    runner = CodeRunner()
    assert runner.run("x = 2\nx ** 5").output == 32
    out = runner.run("final_answer = None\n")
    assert out.error is None
