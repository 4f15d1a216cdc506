"""How CPython launches the Deno sandbox process: its permissions, and its memory snapshot.

The permissions are the security boundary: the process may read the files
listed here and nothing else; network, writes, environment, subprocesses,
FFI and system information are denied; the worker inside has no permissions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from .. import resources

PACKAGE_DIR = Path(__file__).resolve().parent.parent
HOST_SCRIPT = resources.deno_dir() / "sandbox_host.js"
JS_FILES = (HOST_SCRIPT, resources.deno_dir() / "sandbox_workers.js", *(resources.web_dir() / "sandbox" / name
            for name in ("deno-worker.js", "deno-hard-limit.js", "core.js", "memory-figure.js", "relay.js")),
            resources.web_dir() / "protocol.js",
            resources.web_dir() / "sandbox-client.js", resources.web_dir() / "sandbox-wheel.js")
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")

# What the sandbox's Pyodide gets of this package (path there -> file here; "" = empty module).
SANDBOX_PYTHON_FILES = {
    "wasm_agent/__init__.py": "",
    "wasm_agent/errors.py": str(PACKAGE_DIR / "errors.py"),
    "wasm_agent/executor/__init__.py": "",
    **{f"wasm_agent/executor/{name}.py": str(PACKAGE_DIR / "executor" / f"{name}.py")
       for name in ("base", "runner", "protocol", "wire_values", "sandbox_main")},
}
DENIED = ("--deny-net", "--deny-write", "--deny-env", "--deny-run", "--deny-ffi", "--deny-sys")
# No eval, no Function constructor in any isolate of the process: generated code holds no way to write
# JS of its own (an `import("node:…")` would reach Deno's runtime). Pyodide needs neither.
# Memory per sandbox (each a worker, an isolate): a 1 MB young generation (Pyodide's JS allocates little;
# the default grows to 16 MB per isolate). bench/sandbox_memory.py: 8 sandboxes in one process went
# from 179 to 146 MiB each.
# Pyodide's wasm optimized whole, once per process (about 0.6 s of background CPU, +5 MiB), not function by
# function as each new worker finds them hot: a fresh sandbox's boot went from about 183 to 165 ms of CPU
# (bench/README.md, "A request of the per-request web app").
SANDBOX_V8_FLAGS = ("--v8-flags=--disallow-code-generation-from-strings,--max-semi-space-size=1,"
                        "--no-wasm-dynamic-tiering")


def deno_command(deno_bin: str, pyodide_dir: Path, extra_reads: list[Path] = ()) -> list[str]:
    """The command line of a sandbox process with exactly the reads it needs.

    Its config goes as the first line on stdin, not in arguments: workers can read `Deno.args`.
    """
    reads = [*map(str, JS_FILES), *(str(pyodide_dir / name) for name in PYODIDE_FILES),
             *(path for path in SANDBOX_PYTHON_FILES.values() if path), *map(str, extra_reads)]
    return [deno_bin, "run", "--quiet", "--no-prompt", "--no-config", "--no-lock", "--cached-only",
            "--unstable-worker-options", f"--allow-read={','.join(reads)}", *DENIED, SANDBOX_V8_FLAGS,
            str(HOST_SCRIPT)]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wasm-agent"


class SnapshotCache:
    """A Pyodide memory snapshot of a warm sandbox, made once and reused by later starts.

    Keyed by everything that shapes it (Pyodide's files, our sandbox files, the
    Deno binary), so an upgrade makes a new one. Made by the sandbox process
    itself (it cannot write: the bytes come back on stdout and are written here).
    Each is about 30 MB: making one removes all but the `KEEP` most recently used.
    """

    KEEP = 4  # checkouts or versions side by side each keep theirs

    def __init__(self, deno_bin: str, pyodide_dir: Path, cache_dir: str | os.PathLike | None = None):
        self.deno_bin, self.pyodide_dir = deno_bin, Path(pyodide_dir)
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.failed: str | None = None  # why making one failed; then starts are cold
        self._lock: asyncio.Lock | None = None

    @property
    def path(self) -> Path:
        digest = hashlib.sha256()
        for path in [*(self.pyodide_dir / name for name in PYODIDE_FILES), *JS_FILES, Path(self.deno_bin)]:
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        for path in SANDBOX_PYTHON_FILES.values():
            digest.update(Path(path).read_bytes() if path else b"-")
        return self.cache_dir / f"sandbox-snapshot-{digest.hexdigest()[:20]}.bin"

    async def get(self) -> Path | None:
        """The snapshot file, made now if missing; None if it cannot be made."""
        if self.failed:
            return None
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            path = self.path
            if path.is_file():
                with contextlib.suppress(OSError):
                    os.utime(path)  # used now: pruning keeps the recently used
                return path
            try:
                await self.make(path)
            except (OSError, RuntimeError) as error:
                self.failed = str(error)
                return None
            return path

    async def make(self, path: Path) -> None:
        config = {"key": "", "pyodideDir": str(self.pyodide_dir), "snapshot": None, "makeSnapshot": True,
                  "pythonFiles": SANDBOX_PYTHON_FILES}
        process = await asyncio.create_subprocess_exec(
            *deno_command(self.deno_bin, self.pyodide_dir), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.path.expanduser("~"), "DENO_NO_UPDATE_CHECK": "1",
                 "NO_COLOR": "1", **({"DENO_DIR": os.environ["DENO_DIR"]} if "DENO_DIR" in os.environ else {})})
        data, errors = await process.communicate(json.dumps(config).encode() + b"\n")
        if process.returncode != 0 or len(data) < 1_000_000:
            raise RuntimeError(f"making the snapshot failed (exit {process.returncode}): "
                               f"{errors.decode(errors='replace')[-1000:]}")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.prune()

    def prune(self) -> None:
        """Remove the snapshots (of other versions) beyond the `KEEP` most recently used, unless used
        within the hour: a running sandbox process reads its snapshot again when it restarts a worker."""
        snapshots = sorted(self.cache_dir.glob("sandbox-snapshot-*.bin"), key=_mtime, reverse=True)
        for old in snapshots[self.KEEP:]:
            if time.time() - _mtime(old) > 3600:
                with contextlib.suppress(OSError):
                    old.unlink()

    def discard(self, path: Path) -> None:
        """Forget a snapshot that did not start; later starts of this process are cold."""
        path.unlink(missing_ok=True)
        self.failed = "a sandbox did not start from the snapshot"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
