"""The overhead bench still runs: a broken agent API would make it fail, not look fast."""

import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "overhead.py")


@pytest.mark.cpython_only
def test_overhead_bench_quick_run_of_ours_completes():
    # --ours-only needs no smolagents venv; every run's answer and step count are checked inside.
    result = subprocess.run([sys.executable, BENCH, "--quick", "--ours-only"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ours ms/step" in result.stdout
