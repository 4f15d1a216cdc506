"""pytest plugin: write each test's outcome to $SMOLAGENTS_OUTCOMES (JSON) and stop a test after
$SMOLAGENTS_TEST_TIMEOUT seconds, so that one hanging test fails alone instead of the suite."""

import json
import os
import signal

import pytest

_outcomes: dict[str, dict] = {}
_TIMEOUT = float(os.environ.get("SMOLAGENTS_TEST_TIMEOUT", "60"))


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout(f"the test ran longer than {_TIMEOUT:g} s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, _TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pytest_runtest_logreport(report):
    entry = _outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if report.failed:
        entry["outcome"] = "failed"
        entry["message"] = _one_line(report)
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"


def pytest_collectreport(report):
    if report.failed:  # a module that does not import
        _outcomes[report.nodeid] = {"outcome": "failed", "message": _one_line(report)}


def pytest_sessionfinish(session):
    path = os.environ.get("SMOLAGENTS_OUTCOMES")
    if path:
        with open(path, "w") as file:
            json.dump(_outcomes, file, indent=1, sort_keys=True)


def _one_line(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else "")[:300]
