"""The single place that knows where the package runs (CPython or Pyodide).

The rest of the package asks this module, so that it is identical on both.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, AsyncIterator, Coroutine, Iterator

IN_PYODIDE = sys.platform == "emscripten"
HAS_THREADS = not IN_PYODIDE

# True inside an event loop that `block_on` made for one blocking call: no
# other task can be waiting on it, so blocking it costs nobody anything.
_PRIVATE_LOOP: ContextVar[bool] = ContextVar("wasm_agent_private_loop", default=False)


def loop_is_private() -> bool:
    """True when the running event loop serves only a blocking call of ours (sync `agent.run()`)."""
    return _PRIVATE_LOOP.get()


@contextmanager
def private_loop() -> Iterator[None]:
    """Mark loops made inside this block (for a blocking call) as private."""
    token = _PRIVATE_LOOP.set(True)
    try:
        yield
    finally:
        _PRIVATE_LOOP.reset(token)


def can_block() -> bool:
    """True when sync code may wait for a coroutine (`block_on`) here and now."""
    if IN_PYODIDE:
        from . import pyodide as _pyodide

        return _pyodide.can_run_sync()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


def block_on(coroutine: Coroutine) -> Any:
    """Run a coroutine to completion from synchronous code.

    CPython: in a fresh event loop (there must be none running in this thread).
    Pyodide: through JSPI (`pyodide.ffi.run_sync`), which needs the caller to
    have been entered through `runPythonAsync`.
    """
    if IN_PYODIDE:
        from . import pyodide as _pyodide

        return _pyodide.run_sync(coroutine)
    from . import native

    with private_loop():
        return native.run_sync(coroutine)


def iterate_sync(events: AsyncIterator[Any]) -> Iterator[Any]:
    """Iterate an async iterator from synchronous code (as `block_on` does for one coroutine)."""
    if IN_PYODIDE:
        from . import pyodide as _pyodide

        while True:
            try:
                yield _pyodide.run_sync(events.__anext__())
            except StopAsyncIteration:
                return
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                with private_loop():
                    item = loop.run_until_complete(events.__anext__())
            except StopAsyncIteration:
                return
            yield item
    finally:
        loop.close()
