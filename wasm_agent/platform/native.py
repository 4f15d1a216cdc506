"""CPython specifics."""

from __future__ import annotations

import asyncio
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
        holder = _runners.holder = _ThreadRunner()
    return holder.runner.run(coroutine, context=contextvars.copy_context())  # the caller's context vars, as now


class _ThreadRunner:
    """A thread's runner, closed when the thread ends (its loop holds a selector and a socket pair)."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def __del__(self) -> None:
        if sys.is_finalizing():  # the interpreter is going: nothing may run any more
            return
        try:
            self.runner.close()
        except Exception:  # noqa: BLE001 - at thread exit, best effort
            pass
