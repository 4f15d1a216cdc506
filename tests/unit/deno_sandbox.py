"""What the test modules of the Deno sandbox need first (under CI a skip fails the run), and what
several of them use."""

import os

import pytest

# Code that no interrupt stops: each keeps its worker's thread busy in wasm, where Deno's terminate()
# does not end it.
STUBBORN = {
    "catches every interrupt": "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass",
    "loops in C": "import collections, itertools\ncollections.deque(itertools.count(), maxlen=0)",
    "switches interrupts off": "import pyodide_js\npyodide_js.setInterruptBuffer(None)\nwhile True: pass",
}


def require_deno_sandbox():
    """The `wasm_agent.executor.sandbox` module, or a skip of the calling module saying what is missing."""
    sandbox = pytest.importorskip("wasm_agent.executor.sandbox")
    if sandbox.find_deno() is None:
        pytest.skip("Deno is not installed (pip install deno)", allow_module_level=True)
    if not (sandbox.DEFAULT_PYODIDE_DIR / "pyodide.asm.wasm").is_file():
        pytest.skip("Pyodide is not installed (npm ci)", allow_module_level=True)
    return sandbox


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (every thread: the workers are threads)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
