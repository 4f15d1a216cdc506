"""Runs generated code in the agent's own interpreter. Fast; NOT a security boundary."""

from __future__ import annotations

import asyncio
import queue
import inspect
import _thread
import threading
import time
import weakref
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

    On CPython, code runs on the caller's thread while every tool is
    synchronous (no thread hand-off per step), and in a worker thread when a
    tool is async, so that the agent's event loop stays free to run it. Either
    way the time limit and `interrupt()` stop endless loops with state kept;
    code stuck in a blocking C call stops when that call returns (on the
    worker thread it is abandoned after a grace period, with state lost).
    In Pyodide it runs inline with no time limit; async tools need JSPI.

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
        self._needs_loop = False  # some tool is async: run code off the loop's thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: _CodeThread | None = None
        self._watchdog = _Watchdog() if platform.HAS_THREADS else None

    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        self.tools = dict(tools)
        self._needs_loop = any(tool.is_async for tool in self.tools.values())
        self.runner.set_functions({
            name: make_tool_function(name, tool.description, tool.inputs, tool.output_type, self._call_tool)
            for name, tool in self.tools.items()
        })

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        self.runner.set_variables(dict(variables))

    async def reset(self) -> None:
        self.runner.reset()

    async def run(self, code: str) -> CodeOutput:
        if self._watchdog is None:  # Pyodide: no threads, no time limit
            return self.runner.run(code)
        if not self._needs_loop and platform.loop_is_private():
            result = self._run_watched(code)  # nothing else waits on this loop: no hand-off
        else:
            result = await self._run_on_thread(code)
        reason = self._watchdog.reason
        if result.error and result.error.startswith(INTERRUPTED_PREFIX) and reason:
            result.error = (f"Execution stopped: {reason}. Variables defined before that "
                            "are kept. Make the code faster or split the work across steps.")
        return result

    async def _run_on_thread(self, code: str) -> CodeOutput:
        """Run on the code thread, so that the event loop stays free (for async tools, other tasks)."""
        loop = self._loop = asyncio.get_running_loop()
        if self._thread is None:
            self._thread = _CodeThread()
        future = loop.create_future()
        self._thread.submit(lambda: self._run_watched(code), future, loop)
        timeout = self.limits.timeout_seconds
        watch = loop.call_later(timeout + _STOP_GRACE_SECONDS, self._abandon, future) if timeout else None
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self._watchdog.stop("the run was interrupted")
            await asyncio.wait([future], timeout=_STOP_GRACE_SECONDS)
            if not future.done():
                self._abandon(future)
            raise
        finally:
            if watch is not None:
                watch.cancel()

    def _abandon(self, future: asyncio.Future) -> None:
        """The code ignores the stop (stuck in a C call): leave its thread and namespace behind."""
        if future.done():
            return
        self._watchdog.stop(_time_limit_reason(self.limits.timeout_seconds))
        self._thread.retire()
        self._thread = None
        self._watchdog = _Watchdog()
        functions = self.runner.functions
        self.runner = CodeRunner(self.limits.max_output_chars)
        self.runner.set_functions(functions)
        future.set_result(CodeOutput(error=f"Execution stopped: {self._watchdog.reason or 'time limit'}. "
                                           "The code did not stop in time, so all variables were lost; "
                                           "define them again before use."))

    async def interrupt(self) -> None:
        self.request_interrupt()

    def request_interrupt(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop("the run was interrupted")

    async def close(self) -> None:
        self.request_interrupt()
        if self._thread is not None:
            self._thread.retire()
            self._thread = None

    # -- internals ----------------------------------------------------------------
    def _run_watched(self, code: str) -> CodeOutput:
        self._watchdog.arm(self.limits.timeout_seconds)
        try:
            return self.runner.run(code)
        except ExecutionInterrupted:  # landed just after the code ended
            return CodeOutput(error=f"{INTERRUPTED_PREFIX}: the code was stopped")
        finally:
            self._watchdog.disarm()

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
        if self._thread is not None and self._loop is not None and not self._loop_thread_is_current():
            return asyncio.run_coroutine_threadsafe(_awaited(result), self._loop).result()
        return platform.block_on(_awaited(result))

    def _loop_thread_is_current(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False


class _CodeThread:
    """One long-lived thread that runs submitted calls and hands results to the loop."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="wasm-agent-code", daemon=True).start()

    def submit(self, call: Any, future: asyncio.Future, loop: asyncio.AbstractEventLoop) -> None:
        self._queue.put((call, future, loop))

    def retire(self) -> None:
        """Let the thread end once its current call returns."""
        self._queue.put(None)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            call, future, loop = item
            try:
                outcome = (_settle_result, call())
            except BaseException as error:  # noqa: BLE001 - handed to the awaiting side
                outcome = (_settle_error, error)
            try:
                loop.call_soon_threadsafe(outcome[0], future, outcome[1])
            except RuntimeError:  # the loop closed meanwhile: nobody is waiting
                pass


def _settle_result(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _settle_error(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class _Watchdog:
    """Stops the code one executor is running: at its deadline, or when asked.

    Arming and disarming cost no thread wake-up: the deadline is checked by
    one daemon thread shared by every executor of the process. The stop is an
    exception raised in the code's thread; a lock makes sure that it is raised
    only while that code runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self._timeout: float | None = None
        self.deadline: float | None = None
        self.reason: str | None = None
        self.watched = False  # by the deadline thread

    def arm(self, timeout: float | None) -> None:
        with self._lock:
            self._thread_id = threading.get_ident()
            self.reason = None
            self._timeout = timeout
            self.deadline = None if timeout is None else time.monotonic() + timeout
        if timeout is not None:
            _DEADLINES.watch(self)

    def disarm(self) -> None:
        with self._lock:
            thread_id, self._thread_id, self.deadline = self._thread_id, None, None
            if thread_id is not None and self.reason is not None:
                import ctypes  # here, not on every step: its first import costs milliseconds

                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)  # drop one not yet raised

    def expire(self, deadline: float) -> None:
        self.stop(_time_limit_reason(self._timeout), deadline)

    def stop(self, reason: str, deadline: float | None = None) -> None:
        """Raise `ExecutionInterrupted` in the running code, if any (thread-safe).

        With `deadline`, only if the run armed with that deadline is still the one running.
        """
        import ctypes

        with self._lock:
            if self._thread_id is None or self.reason is not None:
                return
            if deadline is not None and deadline != self.deadline:
                return
            self.reason = reason
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id),
                                                      ctypes.py_object(ExecutionInterrupted))


class _DeadlineThread:
    """The one thread that checks the deadlines of armed watchdogs."""

    POLL_SECONDS = 0.02
    IDLE_SECONDS = 1.0  # with nothing armed for this long, sleep until the next arm

    def __init__(self) -> None:
        self._watched: "weakref.WeakSet[_Watchdog]" = weakref.WeakSet()
        self._wake = threading.Event()
        self._started = False
        self._lock = threading.Lock()

    def watch(self, watchdog: _Watchdog) -> None:
        if not watchdog.watched:  # once: the set holds it until it is dropped
            self._watched.add(watchdog)
            watchdog.watched = True
        if not self._wake.is_set():
            self._wake.set()
        if not self._started:
            with self._lock:
                if not self._started:
                    self._started = True
                    _thread.start_new_thread(self._run, ())  # unlike Thread.start(), does not wait for it

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            now = time.monotonic()
            armed = False
            for watchdog in list(self._watched):
                deadline = watchdog.deadline
                if deadline is not None:
                    armed = True
                    if now >= deadline:
                        watchdog.expire(deadline)
            if armed:
                idle_since = now
            elif now - idle_since > self.IDLE_SECONDS:
                self._wake.clear()
                self._wake.wait()
                idle_since = time.monotonic()
                continue
            time.sleep(self.POLL_SECONDS)


_DEADLINES = _DeadlineThread()


def _time_limit_reason(timeout: float | None) -> str:
    return f"the code ran longer than the {timeout:g} s time limit"


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
