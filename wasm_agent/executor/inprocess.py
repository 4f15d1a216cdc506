"""Runs generated code in the agent's own interpreter. Fast; NOT a security boundary."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, Mapping

from .. import platform
from ..errors import AgentError, AgentToolExecutionError
from .base import CodeOutput, ExecutionLimits, Executor
from .runner import INTERRUPTED_PREFIX, CodeRunner, ExecutionInterrupted, FinalAnswerSignal, make_tool_function

# Grace given to stopped code to unwind before its thread is abandoned.
_STOP_GRACE_SECONDS = 2.0


class InProcessExecutor(Executor):
    """Executes code with `exec` in a dedicated namespace of this interpreter.

    Use it for trusted code, tests and speed. Generated code can do anything
    this process can (read files, use the network, see your keys): for code
    written by a model, use the WASM sandbox (`executor_type="sandbox"`).

    On CPython the code runs in a worker thread, so the time limit and
    `interrupt()` stop endless loops (state is kept) and async tools run on
    the agent's event loop. In Pyodide it runs inline: no time limit, and
    async tools need JSPI.

    >>> import asyncio
    >>> asyncio.run(InProcessExecutor().run("final_answer(6 * 7)")).output
    42
    """

    def __init__(self, additional_authorized_imports: tuple[str, ...] | list[str] = (),
                 limits: ExecutionLimits | None = None, **_: Any):
        # Imports are not restricted here: a filter would suggest safety that exec cannot give.
        self.additional_authorized_imports = list(additional_authorized_imports)
        self.limits = limits or ExecutionLimits()
        self.runner = CodeRunner(self.limits.max_output_chars)
        self.tools: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._thread_id: int | None = None
        self._stop_reason: str | None = None

    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        self.tools = dict(tools)
        self.runner.set_functions({
            name: make_tool_function(name, tool.description, tool.inputs, tool.output_type, self._call_tool)
            for name, tool in self.tools.items()
        })

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        self.runner.set_variables(dict(variables))

    async def reset(self) -> None:
        self.runner.reset()

    async def run(self, code: str) -> CodeOutput:
        self._stop_reason = None
        if not platform.HAS_THREADS:
            return self.runner.run(code)
        self._loop = asyncio.get_running_loop()
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wasm-agent-code")
        future = asyncio.wrap_future(self._pool.submit(self._run_in_thread, code))
        try:
            result = await asyncio.wait_for(asyncio.shield(future), self.limits.timeout_seconds)
        except asyncio.TimeoutError:
            self._stop(f"the code ran longer than the {self.limits.timeout_seconds:g} s time limit")
            result = await self._wait_stopped(future)
        except asyncio.CancelledError:
            self._stop("the run was interrupted")
            await self._wait_stopped(future)
            raise
        if result.error and result.error.startswith(INTERRUPTED_PREFIX) and self._stop_reason:
            result.error = (f"Execution stopped: {self._stop_reason}. Variables defined before that "
                            "are kept. Make the code faster or split the work across steps.")
        return result

    async def interrupt(self) -> None:
        self._stop("the run was interrupted")

    async def close(self) -> None:
        if self._pool is not None:
            self._stop("the executor was closed")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # -- internals ----------------------------------------------------------------
    def _run_in_thread(self, code: str) -> CodeOutput:
        self._thread_id = threading.get_ident()
        try:
            return self.runner.run(code)
        finally:
            self._thread_id = None

    def _stop(self, reason: str) -> None:
        thread_id = self._thread_id
        if thread_id is None:
            return
        self._stop_reason = reason
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(ExecutionInterrupted))

    async def _wait_stopped(self, future: asyncio.Future) -> CodeOutput:
        try:
            return await asyncio.wait_for(asyncio.shield(future), _STOP_GRACE_SECONDS)
        except asyncio.TimeoutError:
            # Stuck in a C call that ignores the stop: leave that thread behind with its namespace.
            self._pool.shutdown(wait=False)
            self._pool = None
            functions = self.runner.functions
            self.runner = CodeRunner(self.limits.max_output_chars)
            self.runner.set_functions(functions)
            return CodeOutput(error=f"Execution stopped: {self._stop_reason}. The code did not stop in time, "
                                    "so all variables were lost; define them again before use.")

    def _call_tool(self, name: str, args: tuple, kwargs: dict) -> Any:
        tool = self.tools[name]
        try:
            result = self._finish(tool(*args, **kwargs))
        except (AgentError, ExecutionInterrupted):
            raise
        except Exception as error:  # noqa: BLE001 - name the tool that failed
            raise AgentToolExecutionError(f"tool {name!r} failed: {type(error).__name__}: {error}") from error
        if name == "final_answer":
            raise FinalAnswerSignal(result)
        return result

    def _finish(self, result: Any) -> Any:
        """Wait for an async tool's coroutine from the code's synchronous world."""
        if not inspect.isawaitable(result):
            return result
        if self._loop is not None and threading.get_ident() == self._thread_id:
            return asyncio.run_coroutine_threadsafe(_awaited(result), self._loop).result()
        return platform.block_on(_awaited(result))


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
