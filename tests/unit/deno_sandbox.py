"""What the test modules of the Deno sandbox need first (under CI a skip fails the run)."""

import pytest


def require_deno_sandbox():
    """The `wasm_agent.executor.sandbox` module, or a skip of the calling module saying what is missing."""
    sandbox = pytest.importorskip("wasm_agent.executor.sandbox")
    if sandbox.find_deno() is None:
        pytest.skip("Deno is not installed (pip install deno)", allow_module_level=True)
    if not (sandbox.DEFAULT_PYODIDE_DIR / "pyodide.asm.wasm").is_file():
        pytest.skip("Pyodide is not installed (npm ci)", allow_module_level=True)
    return sandbox
