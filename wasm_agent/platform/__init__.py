"""The single place that knows where the package runs (CPython or Pyodide).

The rest of the package asks this module, so that it is identical on both.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Coroutine

IN_PYODIDE = sys.platform == "emscripten"
HAS_THREADS = not IN_PYODIDE


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

    return native.run_sync(coroutine)
