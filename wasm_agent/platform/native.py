"""CPython specifics."""

from __future__ import annotations

import asyncio
import contextvars
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
    runner = getattr(_runners, "runner", None)
    if runner is None:
        runner = _runners.runner = asyncio.Runner()
    return runner.run(coroutine, context=contextvars.copy_context())  # the caller's context vars, as now
