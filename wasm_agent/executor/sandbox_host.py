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
A process where a worker did not stop (`stuck`) is retired: see `SandboxHost`.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import dataclasses
import itertools
import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any, Protocol

from .. import resources
from . import protocol
from .protocol import HOST_REPLIES, MAX_MESSAGE_DEPTH, ProtocolError, SandboxDiedError
from .pyodide_fastboot import PatchError, fastboot_dir
from .sandbox_launch import PYODIDE_FILES, SANDBOX_PYTHON_FILES, SnapshotCache, default_cache_dir, deno_command

DEFAULT_PYODIDE_DIR = resources.pyodide_dir()
# The host wraps the sandbox's messages in an envelope of its own: a few levels over the sandbox's limit.
HOST_MESSAGE_DEPTH = MAX_MESSAGE_DEPTH + 8


class SandboxUser(Protocol):
    """What a host tells the executor of one of its sandboxes (on the host's loop), and asks of it."""

    running: bool   # a step's code runs: its answer comes from the sandbox's process
    in_run: bool    # a run is under way: its variables live in the sandbox's process

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


@dataclasses.dataclass(eq=False)
class HostProcess:
    """One Deno process of a host, and the sandboxes opened in it."""

    process: asyncio.subprocess.Process
    key: str                                   # prefixes its protocol lines on stdout
    snapshot: Path | None
    sandboxes: set[int] = dataclasses.field(default_factory=set)
    # A worker in it was ended while its code still ran and may spin on: no sandbox is opened here any
    # more, and the process ends once none of its sandboxes is in use.
    retired: bool = False
    stuck: set[int] = dataclasses.field(default_factory=set)  # sandboxes whose worker did not stop: they move
    stderr: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=40))

    @property
    def alive(self) -> bool:
        return self.process.returncode is None


class SandboxHost:
    """The Deno process serving the sandboxes of any number of `DenoSandboxExecutor`s (one at a time,
    but for a retired one that finishes the runs under way in it, below).

    `pyodide_dir` holds Pyodide's files; `snapshot=True` starts every worker from a memory snapshot
    cached under `cache_dir` (made once, on first use). Workers boot a copy of those files whose module
    factory links with less CPU (`pyodide_fastboot`, written under `cache_dir` once), or the files
    themselves when the patches do not fit them (another Pyodide version) or the copy cannot be written. `close()` ends the process and every sandbox
    in it; a host made by `shared_host()` ends with the interpreter.

    A worker that was ended while its code still ran (it ignored its time limit, and Deno cannot end a
    thread busy in wasm) retires its process: new sandboxes and the stuck one open in a new process, runs
    under way in the old one finish there, and the old process is killed once none of its sandboxes is in
    use (a sandbox idle between runs moves at its next run), so no spinning thread is left behind.
    """

    def __init__(self, *, pyodide_dir: str | os.PathLike | None = None, deno_bin: str | None = None,
                 snapshot: bool = True, cache_dir: str | os.PathLike | None = None):
        self.deno_bin = deno_bin or find_deno()
        self.pyodide_dir = Path(pyodide_dir or os.environ.get("WASM_AGENT_PYODIDE_DIR") or DEFAULT_PYODIDE_DIR)
        self.snapshots = SnapshotCache(self.deno_bin, self.pyodide_dir, cache_dir) if snapshot and self.deno_bin else None
        self._cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.generation = 0                  # how many processes were started
        self.retired = 0                     # how many were retired because a worker in them did not stop
        self.logs: collections.deque[str] = collections.deque(maxlen=200)  # stray output of the processes
        self._users: dict[int, SandboxUser] = {}
        self._ids = itertools.count(1)
        self._current: HostProcess | None = None    # where sandboxes are opened
        self._processes: list[HostProcess] = []     # every live one (the current one, retired ones)
        self._where: dict[int, HostProcess] = {}    # sandbox -> the process it is open in
        self._answers: dict[tuple[int, int], asyncio.Future] = {}
        self._request_ids = itertools.count(1)
        self._start_lock: asyncio.Lock | None = None
        self._background: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()
        self.closed = False
        self.boot_dir = self._boot_files()  # the Pyodide files workers boot

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
            try:
                self._loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # closed meanwhile: the host is gone, and what it would have done with it
                pass

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=_serve, args=(self._loop,), name="wasm-agent-sandbox-host",
                                                daemon=True)
                self._thread.start()
            return self._loop

    @property
    def pid(self) -> int | None:
        """The process where sandboxes are opened now (None until one is started)."""
        current = self._current
        return current.process.pid if current is not None and current.alive else None

    def pid_of(self, sandbox: int) -> int | None:
        """The process `sandbox` is open in (None when it is not open)."""
        process = self._where.get(sandbox)
        return process.process.pid if process is not None and process.alive else None

    @property
    def pids(self) -> list[int]:
        """Every live process of this host: the current one and retired ones still finishing runs."""
        return [entry.process.pid for entry in list(self._processes) if entry.alive]

    async def aclose(self) -> None:
        if self.closed:
            return
        if self._loop is not None:
            await self.call(self._close())
        self._stop_loop()

    def _stop_loop(self, wait: float = 0.0) -> None:
        """Closed from now on; the loop stops and its thread closes it (waited for up to `wait` s)."""
        self.closed = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if wait and self._thread is not None:
                self._thread.join(wait)

    # -- on the host's loop -------------------------------------------------------------------
    async def ensure_process(self) -> HostProcess:
        """The process where sandboxes are opened, started if none runs (or the last one was retired)."""
        self._start_lock = self._start_lock or asyncio.Lock()
        async with self._start_lock:
            if self._current is None or not self._current.alive:
                await self._start_process()
        return self._current

    async def open(self, sandbox: int, **fields: Any) -> None:
        """Open `sandbox` in the current process (`open` of the host protocol with these fields); it leaves
        the process it was open in, if any."""
        process = await self.ensure_process()
        if self._where.get(sandbox) is process and sandbox not in process.stuck:
            return  # opened there meanwhile (by a concurrent request of the same sandbox)
        self._leave(sandbox)
        self._write(process, {"type": "open", "sandbox": sandbox, **fields})
        process.sandboxes.add(sandbox)
        self._where[sandbox] = process

    def serves(self, sandbox: int, in_run: bool) -> bool:
        """`sandbox` is open in a live process and may go on there: not the one whose worker did not stop,
        and, in a retired process, only until its run is over."""
        process = self._where.get(sandbox)
        return (process is not None and process.alive and sandbox not in process.stuck
                and (in_run or not process.retired))

    def send(self, message: dict) -> None:
        """A request for the sandbox `message` names, to the process it is open in."""
        process = self._where.get(message.get("sandbox"))
        if process is None or not process.alive:
            raise SandboxDiedError("the sandbox process is not running")
        self._write(process, message)

    def _write(self, process: HostProcess, message: dict) -> None:
        if not process.alive or process.process.stdin.is_closing():
            raise SandboxDiedError("the sandbox process is not running")
        if message.get("type") not in protocol.HOST_REQUESTS:
            raise ProtocolError(f"{message.get('type')!r} is not a request of the sandbox host")
        text = protocol.dumps(message)
        protocol.check_shape(text, max_depth=HOST_MESSAGE_DEPTH)
        process.process.stdin.write(text.encode() + b"\n")

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
        """`sandbox` is closed: its workers end, and nothing more of it is awaited."""
        self._users.pop(sandbox, None)
        self._leave(sandbox)
        for key, future in list(self._answers.items()):
            if key[0] == sandbox and not future.done():
                future.set_exception(SandboxDiedError("the sandbox was closed"))

    def idle(self, sandbox: int) -> None:
        """`sandbox`'s step or run is over: a retired process it was keeping may end now."""
        process = self._where.get(sandbox)
        if process is not None:
            self._end_if_unused(process)

    def _leave(self, sandbox: int) -> None:
        """`sandbox` is no longer open where it was: its workers there end."""
        process = self._where.pop(sandbox, None)
        if process is None:
            return
        process.sandboxes.discard(sandbox)
        process.stuck.discard(sandbox)
        with contextlib.suppress(SandboxDiedError, ConnectionError):
            self._write(process, {"type": "close", "sandbox": sandbox})
        self._end_if_unused(process)

    def _retire(self, process: HostProcess, sandbox: int, reason: str) -> None:
        """A worker of `sandbox` in `process` did not stop: open nothing more there, move that sandbox."""
        if not process.retired:
            process.retired = True
            self.retired += 1
            self.logs.append(f"retiring sandbox process {process.process.pid}: {reason[:300]}")
        if self._current is process:
            self._current = None
        if self._where.get(sandbox) is process:
            process.stuck.add(sandbox)
            # Its fresh worker there is not needed: the sandbox opens in a new process at its next step.
            with contextlib.suppress(SandboxDiedError, ConnectionError):
                self._write(process, {"type": "close", "sandbox": sandbox})
        self._end_if_unused(process)

    def _end_if_unused(self, process: HostProcess) -> None:
        """Kill a retired process once no sandbox in it is in use: none runs a step (its answer comes from
        there), none but the stuck ones is in a run (its variables are there). Its reader reaps it."""
        if not process.retired or not process.alive:
            return
        for sandbox in process.sandboxes:
            user = self._users.get(sandbox)
            if user is not None and (user.running or (user.in_run and sandbox not in process.stuck)):
                return
        with contextlib.suppress(ProcessLookupError):
            process.process.kill()

    def _boot_files(self) -> Path:
        """Pyodide's files with the patched factory (the snapshot is made from them too), else the originals."""
        try:
            boot_dir = fastboot_dir(self.pyodide_dir, self._cache_dir)
        except (PatchError, OSError) as error:
            self.logs.append(f"sandbox workers boot Pyodide's files unpatched: {error}")
            boot_dir = self.pyodide_dir
        if self.snapshots:
            self.snapshots.pyodide_dir = boot_dir
        return boot_dir

    async def _start_process(self) -> None:
        boot_dir = self.boot_dir
        snapshot = await self.snapshots.get() if self.snapshots else None
        key = secrets.token_hex(16)
        config = {"key": key, "pyodideDir": str(boot_dir), "snapshot": str(snapshot) if snapshot else None,
                  "makeSnapshot": False, "pythonFiles": SANDBOX_PYTHON_FILES}
        command = deno_command(self.deno_bin, boot_dir, extra_reads=[snapshot] if snapshot else [])
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=_deno_environment(), limit=4 * protocol.MAX_MESSAGE_CHARS,
            # Out of the terminal's process group: Ctrl+C is for the program, which interrupts the code
            # (state kept); it must not kill the sandbox. The process ends when its stdin closes.
            start_new_session=True)
        process.stdin.write(json.dumps(config).encode() + b"\n")
        self._current = entry = HostProcess(process, key, snapshot)
        self._processes.append(entry)
        self.generation += 1
        self._spawn(self._read_stdout(entry))
        self._spawn(self._read_stderr(entry))

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _read_stdout(self, entry: HostProcess) -> None:
        process = entry.process
        prefix = (entry.key + " ").encode()
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
            if b"\\ud" in line:  # maybe a lone surrogate (JSON's \ud800): replaced, see _valid_text
                message = _valid_text(message)
            try:
                self._on_message(entry, message)
            except Exception as error:  # noqa: BLE001 - nothing the sandbox sends may end this reader
                self.logs.append(f"a message from the sandbox host failed: {type(error).__name__}: {error}")
        code = await process.wait()
        self._ended(entry, code)

    def _ended(self, entry: HostProcess, code: int) -> None:
        """The process exited (and was reaped): what waited on it fails, and its sandboxes are told."""
        if entry in self._processes:
            self._processes.remove(entry)
        if self._current is entry:
            self._current = None
        if entry.retired:
            reason = "its process was ended because a worker in it did not stop"
        else:
            reason = f"the Deno process exited with code {code}" + self._stderr_tail(entry)
        gone = [sandbox for sandbox, where in self._where.items() if where is entry]
        for sandbox in gone:
            del self._where[sandbox]
        for key, future in list(self._answers.items()):
            if key[0] in gone and not future.done():
                future.set_exception(SandboxDiedError(reason))
        for sandbox in gone:
            user = self._users.get(sandbox)
            if user is not None and sandbox not in entry.stuck:
                user.on_process_exit(reason)

    async def _read_stderr(self, entry: HostProcess) -> None:
        while line := await entry.process.stderr.readline():
            entry.stderr.append(line.decode(errors="replace").rstrip()[:2000])

    def _on_message(self, entry: HostProcess, message: dict) -> None:
        kind = message["type"]
        if kind == "snapshot_failed":
            if entry.snapshot is not None and self.snapshots:
                self.snapshots.discard(entry.snapshot)  # never started from it: don't try it again
            self.logs.append(f"the memory snapshot did not start ({message['reason'][:300]}): starting cold")
            return
        sandbox = message["sandbox"]
        if kind == "stuck":
            self._retire(entry, sandbox, message["reason"])
            return
        if kind == "answer":
            future = self._answers.get((sandbox, message["id"]))
            if future is not None and not future.done():
                future.set_result(message)
            return
        # Only from the process the sandbox is open in: what one it left says is not heard.
        user = self._users.get(sandbox) if self._where.get(sandbox) is entry else None
        if user is None:
            return
        if kind == "tool_call":
            user.on_tool_call(message)
        elif kind == "event":
            user.on_event(message["event"])

    async def _close(self) -> None:
        processes, self._processes, self._current = list(self._processes), [], None
        self._where.clear()  # their sandboxes end with the host: no process exit to tell them of
        for entry in processes:
            if entry.alive:
                entry.process.kill()
        for entry in processes:
            await entry.process.wait()
        for future in self._answers.values():
            if not future.done():
                future.set_exception(SandboxDiedError("the sandbox host was closed"))
        for task in list(self._background):
            task.cancel()

    def kill(self) -> None:
        """End the current process now (from the host's loop); the next request starts a new one."""
        if self._current is not None and self._current.alive:
            self._current.process.kill()

    @staticmethod
    def _stderr_tail(entry: HostProcess) -> str:
        tail = "\n".join(list(entry.stderr)[-10:])
        return f"; its last error output:\n{tail}" if tail else ""

    def missing_files(self) -> list[str]:
        return [name for name in PYODIDE_FILES if not (self.pyodide_dir / name).is_file()]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(value: Any) -> Any:
    """`value` with U+FFFD for each lone surrogate in its strings. JSON can carry one (`"\\ud800"`), and code in
    the sandbox can print one, but UTF-8 has no form for it: such a string would fail every write that follows
    (the console, the run store) and take the run down with it. Depth is bounded by the message's check.

    >>> _valid_text({"logs": "a\\ud800b", "args": ["\\udfff", 1]}) == {"logs": "a\\ufffdb", "args": ["\\ufffd", 1]}
    True
    """
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_valid_text(item) for item in value]
    if isinstance(value, dict):
        return {_valid_text(key): _valid_text(item) for key, item in value.items()}
    return value


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


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The host's thread: its loop until stopped, then closed (left open, the loop's own finalizer can
    find its socket pair closed first and print a traceback at exit)."""
    try:
        loop.run_forever()
    finally:
        loop.close()


def _close_at_exit(host: SandboxHost) -> None:
    if host._loop is not None and not host.closed:
        try:
            asyncio.run_coroutine_threadsafe(host._close(), host._loop).result(timeout=5)
        finally:
            host._stop_loop(wait=5)


def _deno_environment() -> dict[str, str]:
    """Only what Deno itself needs: no keys of ours reach it (it could not read them anyway)."""
    keep = ("PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    # Two malloc arenas, not one per worker thread: each sandbox's worker otherwise keeps an arena of its
    # own with freed boot memory in it (bench/sandbox_memory.py: 8 sandboxes, 117 -> 99 MiB each).
    return {**env, "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "MALLOC_ARENA_MAX": "2"}
