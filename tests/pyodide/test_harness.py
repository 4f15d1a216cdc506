"""Checks of the harness itself: these tests run only inside Pyodide (run.py adds them)."""

import asyncio
import sys

import pytest

from wasm_agent.platform import IN_PYODIDE, block_on, can_block

pytestmark = pytest.mark.skipif(sys.platform != "emscripten", reason="checks the Pyodide run")


def test_runs_in_pyodide():
    assert IN_PYODIDE


def test_blocking_works_because_pytest_was_entered_through_runpythonasync():
    assert can_block()


async def test_async_tests_really_await():
    import js
    from pyodide.ffi import to_js

    await asyncio.sleep(0.01)
    assert await js.Promise.resolve(to_js([1, 2])) is not None


def test_block_on_inside_a_sync_test():
    async def answer():
        await asyncio.sleep(0)
        return 42

    assert block_on(answer()) == 42
