"""Pyodide specifics: the only module of the core that imports `pyodide`/`js`."""

from __future__ import annotations

from typing import Any, Coroutine


def can_run_sync() -> bool:
    try:
        from pyodide.ffi import can_run_sync as _can_run_sync
    except ImportError:  # Pyodide older than 0.27
        return False
    return bool(_can_run_sync())


def run_sync(coroutine: Coroutine) -> Any:
    if not can_run_sync():
        coroutine.close()
        raise RuntimeError("cannot block here: blocking in Pyodide needs JSPI and code entered through "
                           "runPythonAsync; await the async version instead (e.g. `await agent.arun(...)`)")
    from pyodide.ffi import run_sync as _run_sync

    return _run_sync(coroutine)
