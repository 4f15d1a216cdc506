"""Start tests/providers/mcp_server.py (the official SDK's MCP server) in a subprocess on loopback."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

SERVER = Path(__file__).with_name("mcp_server.py")


@contextlib.contextmanager
def mcp_server(*args: str, timeout: float = 30) -> Iterator[tuple[str, subprocess.Popen]]:
    """`(url, process)` of a running server; it is stopped on exit. Args as the script takes them."""
    log = tempfile.TemporaryFile("w+")  # not a pipe: a chatty server must never block on a full one
    process = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = process.stdout.readline()  # the server prints one line when it serves, then nothing
        if not line.startswith("listening "):
            process.kill()
            process.wait()
            log.seek(0)
            raise RuntimeError(f"the MCP test server did not start: {line}{log.read()}")
        yield line.split()[1], process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
        process.stdout.close()
        log.close()
