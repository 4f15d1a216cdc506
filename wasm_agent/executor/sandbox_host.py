"""The Deno process that holds sandboxes for CPython: one process, any number of sandboxes.

`SandboxHost` starts `deno/sandbox_host.js` (with exactly the reads of
`sandbox_launch.deno_command`: no network, writes, environment, subprocesses
or FFI) and speaks its line protocol (`protocol.HOST_REQUESTS` /
`HOST_REPLIES`): every line names its sandbox, so several executors can share
one process, each sandbox its own permissionless workers driven by the
process's own `SandboxClient` (web/sandbox-client.js, the client the browser
uses). The process, its pipes and its reader live on a private event loop in
a thread of their own, so executors work from any loop and any thread.

A process that ends (killed, crashed) is started again on the next request;
every sandbox that was open in it is told (`on_process_exit`) and opened again.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import itertools
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any, Protocol

from .. import resources
from . import protocol
from .protocol import HOST_REPLIES, MAX_MESSAGE_DEPTH, ProtocolError, SandboxDiedError
from .sandbox_launch import PYODIDE_FILES, SANDBOX_PYTHON_FILES, SnapshotCache, deno_command

DEFAULT_PYODIDE_DIR = resources.pyodide_dir()
# The host wraps the sandbox's messages in an envelope of its own: a few levels over the sandbox's limit.
HOST_MESSAGE_DEPTH = MAX_MESSAGE_DEPTH + 8


class SandboxUser(Protocol):
    """What a host tells the executor of one of its sandboxes (on the host's loop)."""

    def on_tool_call(self, message: dict) -> None: ...
    def on_event(self, event: dict) -> None: ...
    def on_process_exit(self, reason: str) -> None: ...


def find_deno() -> str | None:
    """The `deno` binary of the `deno` package (or $WASM_AGENT_DENO), None if absent."""
    if os.environ.get("WASM_AGENT_DENO"):
        return os.environ["WASM_AGENT_DENO"]
    try:
        import deno
    except ImportError:
        return None
    path = deno.find_deno_bin()
    return str(path) if path and os.path.exists(path) else None


class SandboxHost:
    """One Deno process serving the sandboxes of any number of `DenoSandboxExecutor`s.

    `pyodide_dir` holds Pyodide's files; `snapshot=True` starts every worker from a memory snapshot
    cached under `cache_dir` (made once, on first use). `close()` ends the process and every sandbox
    in it; a host made by `shared_host()` ends with the interpreter.
    """

    def __init__(self, *, pyodide_dir: str | os.PathLike | None = None, deno_bin: str | None = None,
                 snapshot: bool = True, cache_dir: str | os.PathLike | None = None):
        self.deno_bin = deno_bin or find_deno()
        self.pyodide_dir = Path(pyodide_dir or os.environ.get("WASM_AGENT_PYODIDE_DIR") or DEFAULT_PYODIDE_DIR)
        self.snapshots = SnapshotCache(self.deno_bin, self.pyodide_dir, cache_dir) if snapshot and self.deno_bin else None
        self.generation = 0                  # how many processes were started: a sandbox opened in an
                                             # earlier one must be opened again
        self.logs: collections.deque[str] = collections.deque(maxlen=200)  # stray output of the process
        self._users: dict[int, SandboxUser] = {}
        self._ids = itertools.count(1)
        self._process: asyncio.subprocess.Process | None = None
        self._snapshot: Path | None = None
        self._key = ""
        self._answers: dict[tuple[int, int], asyncio.Future] = {}
        self._request_ids = itertools.count(1)
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._start_lock: asyncio.Lock | None = None
        self._background: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()
        self.closed = False

    # -- from any thread -------------------------------------------------------------------
    def register(self, user: SandboxUser) -> int:
        """A sandbox id for `user` (opened by its first `open`)."""
        sandbox = next(self._ids)
        self._users[sandbox] = user
        return sandbox

    async def call(self, coroutine: Any) -> Any:
        """Run `coroutine` on the host's loop and wait for it from the caller's."""
        if self.closed:
            coroutine.close()
            raise SandboxDiedError("the sandbox host was closed")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def call_soon(self, callback: Any, *args: Any) -> None:
        """Run `callback(*args)` on the host's loop soon (thread-safe, returns at once)."""
        if self._loop is not None and not self.closed:
            self._loop.call_soon_threadsafe(callback, *args)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="wasm-agent-sandbox-host", daemon=True).start()
            return self._loop

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def aclose(self) -> None:
        if self.closed:
            return
        if self._loop is not None:
            await self.call(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
        self.closed = True

    # -- on the host's loop -------------------------------------------------------------------
    async def ensure_process(self) -> int:
        """Start the process if it is not running; its generation."""
        self._start_lock = self._start_lock or asyncio.Lock()
        async with self._start_lock:
            if self._process is None or self._process.returncode is not None:
                await self._start_process()
        return self.generation

    def send(self, message: dict) -> None:
        process = self._process
        if process is None or process.returncode is not None or process.stdin.is_closing():
            raise SandboxDiedError("the sandbox process is not running")
        if message.get("type") not in protocol.HOST_REQUESTS:
            raise ProtocolError(f"{message.get('type')!r} is not a request of the sandbox host")
        try:
            text = json.dumps(message, separators=(",", ":"), allow_nan=False)
        except (ValueError, TypeError, RecursionError) as error:
            raise ProtocolError(f"the message cannot be sent: {error}") from None
        protocol.check_shape(text, max_depth=HOST_MESSAGE_DEPTH)
        process.stdin.write(text.encode() + b"\n")

    async def request(self, sandbox: int, kind: str, timeout: float | None = None, **fields: Any) -> Any:
        """Send request `kind` for `sandbox` and return the value of its answer; an error answer raises
        `SandboxDiedError` (the sandbox is gone) or `ProtocolError` (it refused)."""
        id = next(self._request_ids)
        future = self._answers[(sandbox, id)] = asyncio.get_running_loop().create_future()
        try:
            self.send({"type": kind, "sandbox": sandbox, "id": id, **fields})
            answer = await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            self._answers.pop((sandbox, id), None)
        if not answer["ok"]:
            error = answer.get("error") or {}
            kind_of_error = SandboxDiedError if error.get("type") == "SandboxDiedError" else ProtocolError
            raise kind_of_error(str(error.get("message") or error))
        return answer.get("value")

    def forget(self, sandbox: int) -> None:
        self._users.pop(sandbox, None)
        for key, future in list(self._answers.items()):
            if key[0] == sandbox and not future.done():
                future.set_exception(SandboxDiedError("the sandbox was closed"))

    async def _start_process(self) -> None:
        snapshot = await self.snapshots.get() if self.snapshots else None
        self._snapshot = snapshot
        self._key = secrets.token_hex(16)
        config = {"key": self._key, "pyodideDir": str(self.pyodide_dir), "snapshot": str(snapshot) if snapshot else None,
                  "makeSnapshot": False, "pythonFiles": SANDBOX_PYTHON_FILES}
        command = deno_command(self.deno_bin, self.pyodide_dir, extra_reads=[snapshot] if snapshot else [])
        self._process = process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=_deno_environment(), limit=4 * protocol.MAX_MESSAGE_CHARS,
            # Out of the terminal's process group: Ctrl+C is for the program, which interrupts the code
            # (state kept); it must not kill the sandbox. The process ends when its stdin closes.
            start_new_session=True)
        process.stdin.write(json.dumps(config).encode() + b"\n")
        self.generation += 1
        self._spawn(self._read_stdout(process))
        self._spawn(self._read_stderr(process))

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _read_stdout(self, process: asyncio.subprocess.Process) -> None:
        prefix = (self._key + " ").encode()
        while True:
            try:
                line = await process.stdout.readline()
            except ValueError:  # a line over the limit: not one of ours
                self.logs.append("dropped an over-long line from the sandbox process")
                continue
            if not line:
                break
            # A frame is `<key> <JSON>\n`, found wherever it starts in the line: bytes written before it
            # without a newline (by anything else in the process) cannot hide it.
            at = line.find(prefix)
            if at != 0:
                self.logs.append(line[:at if at > 0 else len(line)].decode(errors="replace").rstrip()[:2000])
            if at < 0:
                continue
            try:
                message = protocol.decode(line[at + len(prefix):], HOST_REPLIES, max_depth=HOST_MESSAGE_DEPTH)
            except ProtocolError as error:
                self.logs.append(f"dropped a message of the sandbox host: {error}")
                continue
            try:
                self._on_message(message)
            except Exception as error:  # noqa: BLE001 - nothing the sandbox sends may end this reader
                self.logs.append(f"a message from the sandbox host failed: {type(error).__name__}: {error}")
        code = await process.wait()
        if process is self._process:
            self._process = None
            reason = f"the Deno process exited with code {code}" + self._stderr_tail()
            for key, future in list(self._answers.items()):
                if not future.done():
                    future.set_exception(SandboxDiedError(reason))
            for user in list(self._users.values()):
                user.on_process_exit(reason)

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        while line := await process.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip()[:2000])

    def _on_message(self, message: dict) -> None:
        kind = message["type"]
        if kind == "snapshot_failed":
            if self._snapshot is not None and self.snapshots:
                self.snapshots.discard(self._snapshot)  # never started from it: don't try it again
            self.logs.append(f"the memory snapshot did not start ({message['reason'][:300]}): starting cold")
            return
        sandbox = message["sandbox"]
        if kind == "answer":
            future = self._answers.get((sandbox, message["id"]))
            if future is not None and not future.done():
                future.set_result(message)
            return
        user = self._users.get(sandbox)
        if user is None:
            return
        if kind == "tool_call":
            user.on_tool_call(message)
        elif kind == "event":
            user.on_event(message["event"])

    async def _close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        for future in self._answers.values():
            if not future.done():
                future.set_exception(SandboxDiedError("the sandbox host was closed"))
        for task in list(self._background):
            task.cancel()

    def kill(self) -> None:
        """End the process now (from the host's loop); the next request starts a new one."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()

    def _stderr_tail(self) -> str:
        tail = "\n".join(list(self._stderr)[-10:])
        return f"; its last error output:\n{tail}" if tail else ""

    def missing_files(self) -> list[str]:
        return [name for name in PYODIDE_FILES if not (self.pyodide_dir / name).is_file()]


_shared: SandboxHost | None = None
_shared_lock = threading.Lock()


def shared_host() -> SandboxHost:
    """The process-wide `SandboxHost` (made on first use, with the default Pyodide and snapshot): pass it
    as `DenoSandboxExecutor(host=shared_host())` and every such executor is a sandbox of one Deno process,
    each with its own permissionless workers. It ends when this interpreter exits."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = SandboxHost()
            atexit.register(_close_at_exit, _shared)
        return _shared


def _close_at_exit(host: SandboxHost) -> None:
    if host._loop is not None and not host.closed:
        asyncio.run_coroutine_threadsafe(host._close(), host._loop).result(timeout=5)


def _deno_environment() -> dict[str, str]:
    """Only what Deno itself needs: no keys of ours reach it (it could not read them anyway)."""
    keep = ("PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    # Two malloc arenas, not one per worker thread: each sandbox's worker otherwise keeps an arena of its
    # own with freed boot memory in it (bench/sandbox_memory.py: 8 sandboxes, 117 -> 99 MiB each).
    return {**env, "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "MALLOC_ARENA_MAX": "2"}
