"""Running our commands the way a terminal does, for the CLI tests."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENDLESS_STEP = "Thought: count.\n<code>\nn = 0\nwhile True:\n    n += 1\n</code>"


def ctrl_c_during_endless_step(args: list[str], api_key: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run `python -m wasm_agent *args` against a mock provider that scripts an endless code step,
    press Ctrl+C (SIGINT to the process group, as a terminal does) once the loop runs, and return
    (exit code, stdout, stderr). {api_base} in `args` becomes the mock's base URL; the mock takes
    `api_key`, which `env` (added to this process's environment) passes on."""
    from providers.mock import MockProviderServer

    with MockProviderServer(api_key=api_key) as provider:
        provider.script(ENDLESS_STEP)
        command = [sys.executable, "-m", "wasm_agent", *(arg.format(api_base=provider.openai_base) for arg in args)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True, env={**os.environ, **env})
        try:
            deadline = time.monotonic() + 120
            while not provider.requests and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.5)  # the loop is running in the sandbox now
            os.killpg(process.pid, signal.SIGINT)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, out, err
