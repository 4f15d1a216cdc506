"""CPython specifics."""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine


def run_sync(coroutine: Coroutine) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    coroutine.close()
    raise RuntimeError("cannot block on a coroutine while an event loop is running in this thread; "
                       "await the async version instead (e.g. `await agent.arun(...)`)")
