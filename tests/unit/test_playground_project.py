"""The playground's project format (web/playground/project.js), tested in Deno: tests/js/project_test.js."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.cpython_only
def test_the_project_format_checks_every_field():
    sandbox = pytest.importorskip("wasm_agent.executor.sandbox")
    deno = sandbox.find_deno()
    if deno is None:
        pytest.skip("Deno is not installed")
    run = subprocess.run([deno, "test", "--no-prompt", "--no-config", "--no-lock", "--allow-read=web,tests/js",
                          "tests/js/project_test.js"], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "PATH": "", "HOME": os.environ.get("HOME", "")},
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout, run.stdout
