"""Shared by the CPython run and the Pyodide run of the same tests.

`async def` tests are run to completion here, so no plugin is needed in
either interpreter: CPython uses `asyncio.run`, Pyodide blocks through JSPI
(the harness enters pytest with `runPythonAsync`).
"""

import asyncio
import inspect
import os

import pytest

from wasm_agent.platform import IN_PYODIDE, block_on


def pytest_configure(config):
    config.addinivalue_line("markers", "cpython_only: needs threads, subprocesses or sockets; skipped in Pyodide")
    if not IN_PYODIDE:
        _allow_loopback_only()


def _allow_loopback_only():
    """Tests talk to loopback servers only: a connection anywhere else fails loudly."""
    import ipaddress
    import socket

    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ConnectionRefusedError(f"tests may only connect to loopback servers, not {address!r}")

    def guarded_connect(sock, address):
        check(sock, address)
        return connect(sock, address)

    def guarded_connect_ex(sock, address):
        check(sock, address)
        return connect_ex(sock, address)

    socket.socket.connect, socket.socket.connect_ex = guarded_connect, guarded_connect_ex


def pytest_collection_modifyitems(config, items):
    if IN_PYODIDE:
        skip = pytest.mark.skip(reason="needs CPython (threads, subprocesses or sockets)")
        for item in items:
            if "cpython_only" in item.keywords:
                item.add_marker(skip)


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):  # an expected failure is reported as skipped too
        _skipped.append(f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''}")


def pytest_collectreport(report):  # a whole module skipped (pytest.skip(..., allow_module_level=True))
    pytest_runtest_logreport(report)


def pytest_sessionfinish(session, exitstatus):
    """In CI every prerequisite is installed, so a skip on CPython means a broken setup: fail."""
    if os.environ.get("CI") and not IN_PYODIDE and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print("\nCI: these tests were skipped, but CI installs everything they need:\n  " + "\n  ".join(_skipped))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        # CPython: like a user's `asyncio.run(main())`, whose loop other tasks may share.
        (block_on if IN_PYODIDE else asyncio.run)(pyfuncitem.obj(**kwargs))
        return True
    return None
