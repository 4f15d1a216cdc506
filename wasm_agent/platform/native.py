"""CPython specifics."""

from __future__ import annotations

import _signal
import asyncio
import atexit
import contextvars
import sys
import threading
from typing import Any, Coroutine

_runners = threading.local()


def run_sync(coroutine: Coroutine) -> Any:
    """Run a coroutine on this thread's private event loop (made once, reused by later calls)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coroutine.close()
        raise RuntimeError("cannot block on a coroutine while an event loop is running in this thread; "
                           "await the async version instead (e.g. `await agent.arun(...)`)")
    holder = getattr(_runners, "holder", None)
    if holder is None:
        if _exiting and threading.current_thread() is threading.main_thread():
            once = _ThreadRunner()  # after the exit hook: nothing would close a kept loop before finalizing
            try:
                return once.run(coroutine, contextvars.copy_context())
            finally:
                once.close()
        holder = _runners.holder = _ThreadRunner()
    return holder.run(coroutine, contextvars.copy_context())  # the caller's context vars, as now


_exiting = False


@atexit.register
def _close_main_thread_runner() -> None:
    """Close the main thread's loop while the interpreter still runs: left to the finalizer, its socket
    pair may be closed first, and the loop's own `__del__` then prints a traceback at exit."""
    global _exiting
    _exiting = True
    holder = getattr(_runners, "holder", None)
    if holder is not None:
        _runners.holder = None
        holder.close()


class _ThreadRunner:
    """A thread's runner, closed when the thread ends (its loop holds a selector and a socket pair)."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def run(self, coroutine: Coroutine, context: contextvars.Context) -> Any:
        """`asyncio.Runner.run`: a first Ctrl+C cancels the coroutine, a second one interrupts. The
        handler is swapped through `_signal`: `signal`'s enum conversions (and the repr of the task
        they make) cost more than a step of an agent, at every blocking call."""
        loop = self.runner.get_loop()
        task = loop.create_task(coroutine, context=context)
        interrupts = 0

        def on_interrupt(signum: int, frame: Any) -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1 and not task.done():
                task.cancel()
                loop.call_soon_threadsafe(lambda: None)  # wake the loop if it waits in select()
                return
            raise KeyboardInterrupt()

        handler = None
        if threading.current_thread() is threading.main_thread() \
                and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
            try:
                _signal.signal(_signal.SIGINT, on_interrupt)
                handler = on_interrupt
            except ValueError:  # an embedded interpreter without signals
                pass
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupts and task.uncancel() == 0:
                raise KeyboardInterrupt() from None
            raise
        finally:
            if handler is not None and _signal.getsignal(_signal.SIGINT) is handler:
                _signal.signal(_signal.SIGINT, _signal.default_int_handler)

    def close(self) -> None:
        try:
            self.runner.close()
        except Exception:  # noqa: BLE001 - at thread or process exit, best effort
            pass

    def __del__(self) -> None:
        if not sys.is_finalizing():  # the interpreter is going: nothing may run any more
            self.close()
