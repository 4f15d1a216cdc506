"""Shared by the CPython run and the Pyodide run of the same tests.

`async def` tests are run to completion here, so no plugin is needed in
either interpreter: CPython uses `asyncio.run`, Pyodide blocks through JSPI
(the harness enters pytest with `runPythonAsync`).
"""

import inspect

import pytest

import asyncio

from wasm_agent.platform import IN_PYODIDE, block_on


def pytest_configure(config):
    config.addinivalue_line("markers", "cpython_only: needs threads, subprocesses or sockets; skipped in Pyodide")


def pytest_collection_modifyitems(config, items):
    if IN_PYODIDE:
        skip = pytest.mark.skip(reason="needs CPython (threads, subprocesses or sockets)")
        for item in items:
            if "cpython_only" in item.keywords:
                item.add_marker(skip)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        # CPython: like a user's `asyncio.run(main())`, whose loop other tasks may share.
        (block_on if IN_PYODIDE else asyncio.run)(pyfuncitem.obj(**kwargs))
        return True
    return None
