import os
import socket

import pytest


@pytest.mark.cpython_only
def test_the_suite_cannot_reach_outside_loopback():
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="loopback"):
        sock.connect(("203.0.113.7", 443))  # a documentation address: never reached
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass  # loopback is allowed


@pytest.mark.cpython_only
@pytest.mark.parametrize("marker, fails", [("xfail(strict=True)", False), ("skip", True)])
def test_under_ci_a_skip_fails_the_run_and_an_expected_failure_does_not(tmp_path, marker, fails):
    import pathlib
    import shutil
    import subprocess
    import sys

    shutil.copy(pathlib.Path(__file__).parents[1] / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_one.py").write_text(f"import pytest\n\n@pytest.mark.{marker}\ndef test_it():\n    assert False\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "CI": "1"})
    assert (run.returncode != 0) == fails, run.stdout
    assert ("CI: these tests were skipped" in run.stdout) == fails
