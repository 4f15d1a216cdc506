"""The WASM sandbox from CPython: generated code runs in Pyodide inside a Deno worker.

`DenoSandboxExecutor` starts `deno` (from the `deno` PyPI package) as a
subprocess that may read only Pyodide's files and ours: no network, no
writes, no environment, no subprocesses, no FFI. That process
(`deno/sandbox_host.js`) holds a worker with no permissions at all, where the
code runs (`sandbox_main.py` driving `CodeRunner`). Messages are JSON lines
(`protocol.py`); tool calls come back here and run in this process.

    >>> import asyncio
    >>> async def demo():
    ...     async with DenoSandboxExecutor() as executor:
    ...         return (await executor.run("final_answer(6 * 7)")).output
    >>> asyncio.run(demo())  # doctest: +SKIP
    42
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import (
    AgentError,
    AgentToolCallError,
    AgentToolExecutionError,
    ExecutorUnavailableError,
)
from .. import resources
from . import protocol
from .base import CodeOutput, ExecutionLimits, Executor
from .protocol import (
    PendingRequests,
    ProtocolError,
    RequestTimeoutError,
    SandboxDiedError,
    from_wire,
    to_wire,
)
from .distribution import distribution_wheels
from .packages import wheels_from_folder
from .runner import INTERRUPTED_PREFIX
from .sandbox_launch import (
    PYODIDE_FILES,
    SANDBOX_PYTHON_FILES,
    SnapshotCache,
    deno_command,
)

DEFAULT_PYODIDE_DIR = resources.pyodide_dir()

STOP_GRACE_SECONDS = 5.0      # stopped code gets this long to unwind before the sandbox is replaced (a loaded
                              # machine took over 2 s to pass an interrupt and its answer through)
REQUEST_TIMEOUT_SECONDS = 30.0
DEFAULT_MEMORY_MB = 1024      # without limits.max_memory_mb: the sandbox's wasm memory stops growing here
                              # (MemoryError in the code), and the process may grow 512 MB more (JS heap)
                              # before the sandbox is replaced
LOST_STATE = "all variables were lost; define them again before use"


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


class DenoSandboxExecutor(Executor):
    """Runs generated code in a Pyodide sandbox held by a Deno subprocess.

    One process serves every step of a run (state is kept between steps).
    Past the time limit the code is interrupted (KeyboardInterrupt, state
    kept); code that does not stop, a crash or a process that died is
    replaced by a fresh sandbox, and the next observation says the variables
    were lost. `close()` ends the process.

    `pyodide_dir` holds Pyodide's files (default: the repo's
    `node_modules/pyodide`, from `npm ci`). `snapshot=True` starts from a
    memory snapshot cached under `cache_dir` (made once, on first use).
    `spare=True` keeps a second sandbox booted in the process, so that a
    restart after a timeout or crash is immediate; it costs about 190 MiB
    (the process holds about 300 MiB without it) and CPU while it boots, and
    restarting from the snapshot takes well under a second anyway.
    Memory: `limits.max_memory_mb` (default `DEFAULT_MEMORY_MB`, 1024) caps the sandbox's wasm memory
    (past it the code gets MemoryError and the sandbox goes on); the process is watched at all times,
    and past that figure plus 512 MB of growth (JS objects the code made) the sandbox is replaced.
    `reset()` after code ran (a new run, a resume) replaces the sandbox with a fresh one, so nothing
    an earlier run did to its interpreter reaches the next: the figure `bench/sandbox_deno.py`
    reports as "reset" is what that costs per run.
    `bridge` is how tool calls block: "atomics" (SharedArrayBuffer) or "jspi".
    `wheels` (or $WASM_AGENT_WHEELS) is a folder with a pyodide-lock.json and its wheels, such as a
    built site's `dist/pyodide`: the packages of `additional_authorized_imports`, with their
    dependencies, are installed from there into every new sandbox. Without it, only the standard
    library can be authorized (`MissingPackageError` otherwise).
    `packages_url` (or $WASM_AGENT_PACKAGES_URL) is a Pyodide package distribution (the CDN folder
    of the pinned Pyodide version, or a mirror): what `wheels` lacks (numpy, pandas…) is resolved in the
    pinned Pyodide's lock (or `packages_lock`), fetched here with its dependencies, checked against
    the lock's sha256 and cached in `packages_cache` (default ~/.cache/wasm-agent/packages).
    """

    def __init__(self, additional_authorized_imports: tuple[str, ...] | list[str] = (),
                 limits: ExecutionLimits | None = None, *, pyodide_dir: str | os.PathLike | None = None,
                 deno_bin: str | None = None, snapshot: bool = True, cache_dir: str | os.PathLike | None = None,
                 bridge: str = "atomics", spare: bool = False, startup_timeout: float = 60.0,
                 wheels: str | os.PathLike | None = None, packages_url: str | None = None,
                 packages_lock: str | os.PathLike | None = None, packages_cache: str | os.PathLike | None = None,
                 **_: Any):
        self.additional_authorized_imports = list(additional_authorized_imports)
        wheels = wheels or os.environ.get("WASM_AGENT_WHEELS") or None
        packages_url = packages_url or os.environ.get("WASM_AGENT_PACKAGES_URL") or None
        # Checked now, not at the model's first import: a package no wheel provides fails here.
        if packages_url is None:
            self._wheels = wheels_from_folder(wheels, self.additional_authorized_imports)
        else:
            lock = packages_lock or Path(pyodide_dir or os.environ.get("WASM_AGENT_PYODIDE_DIR")
                                         or DEFAULT_PYODIDE_DIR) / "pyodide-lock.json"
            self._wheels = distribution_wheels(self.additional_authorized_imports, packages_url=packages_url,
                                               lock=Path(lock), site_folder=wheels, cache_dir=packages_cache)
        self.limits = limits or ExecutionLimits()
        self.deno_bin = deno_bin or find_deno()
        if self.deno_bin is None:
            raise ExecutorUnavailableError("The sandbox needs Deno: `pip install deno` (or set WASM_AGENT_DENO).")
        self.pyodide_dir = Path(pyodide_dir or os.environ.get("WASM_AGENT_PYODIDE_DIR") or DEFAULT_PYODIDE_DIR)
        missing = [name for name in PYODIDE_FILES if not (self.pyodide_dir / name).is_file()]
        if missing:
            raise ExecutorUnavailableError(
                f"Pyodide's files are missing from {self.pyodide_dir} ({', '.join(missing)}). Install the "
                "wasm-agent wheel (it ships them), run `npm ci` in a wasm-agent checkout, or pass pyodide_dir= a "
                "folder holding the pyodide npm package.")
        if bridge not in ("atomics", "jspi"):
            raise ValueError("bridge must be 'atomics' or 'jspi'")
        self.bridge = bridge
        self.spare = spare
        self.startup_timeout = startup_timeout
        self.snapshots = SnapshotCache(self.deno_bin, self.pyodide_dir, cache_dir) if snapshot else None
        self.tools: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        self.last_ready: dict = {}           # the latest `ready` message (startup_ms, snapshot, ...)
        self.restarts = 0                    # sandboxes replaced because of a failure
        self.resets = 0                      # sandboxes replaced for a new run (`reset()` after code ran)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None     # reads the process's stdout until it exits
        self._exit_reason: str | None = None
        self._key = ""
        self._pending = PendingRequests()
        self._ready = asyncio.Event()
        self._fresh = True                   # the sandbox has not had our tools and variables yet
        self._lost_note: str | None = None   # tell the model at its next step
        self._used = False                   # code ran in this sandbox: losing it loses state
        self._running_id: int | None = None
        self._stop_reason: str | None = None
        self._tool_tasks: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self.logs: collections.deque[str] = collections.deque(maxlen=200)  # `log` messages, stray output
        self._start_lock: asyncio.Lock | None = None
        self._run_lock: asyncio.Lock | None = None
        self._io_loop: asyncio.AbstractEventLoop | None = None
        self._caller_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # -- the executor contract ------------------------------------------------------
    # The process and its pipes live on a private event loop in a thread of their
    # own, so the executor works from any loop (sync `agent.run()` makes a new
    # one per call) and `request_interrupt` works from any thread.
    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        await self._on_io_loop(self._send_tools(dict(tools)))

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        await self._on_io_loop(self._send_variables(dict(variables)))

    async def reset(self) -> None:
        await self._on_io_loop(self._reset())

    async def start(self) -> None:
        await self._on_io_loop(self._ensure_ready())

    async def run(self, code: str) -> CodeOutput:
        return await self._on_io_loop(self._run(code))

    async def interrupt(self) -> None:
        self.request_interrupt()

    def request_interrupt(self) -> None:
        """Stop the running code (thread-safe, returns at once)."""
        if self._io_loop is not None and self._running_id is not None:
            self._io_loop.call_soon_threadsafe(self._interrupt_run, "the run was interrupted")

    async def close(self) -> None:
        if self._io_loop is not None and not self._closed:
            await self._on_io_loop(self._close())
            self._io_loop.call_soon_threadsafe(self._io_loop.stop)
        self._closed = True

    async def _on_io_loop(self, coroutine: Any) -> Any:
        if self._closed:
            coroutine.close()
            raise SandboxDiedError("the executor was closed")
        self._caller_loop = asyncio.get_running_loop()
        if self._io_loop is None:
            self._io_loop = asyncio.new_event_loop()
            threading.Thread(target=self._io_loop.run_forever, name="wasm-agent-sandbox-io", daemon=True).start()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._io_loop))

    # -- on the I/O loop ----------------------------------------------------------------
    async def _send_tools(self, tools: dict[str, Any]) -> None:
        self.tools = tools
        if self._ready.is_set() and not self._fresh:
            await self._request("send_tools", tools=self._tool_specs())

    async def _send_variables(self, variables: dict[str, Any]) -> None:
        self.variables.update(variables)
        if self._ready.is_set() and not self._fresh:
            await self._request("send_variables", variables=to_wire(variables, exact=True))

    async def _reset(self) -> None:
        self.variables = {}
        if not self._ready.is_set() or self._fresh:
            return
        if not self._used:  # no code ran in this sandbox: clearing what we sent is enough
            await self._request("reset")
            return
        # Code ran here and may have changed anything in its interpreter: a fresh sandbox (from the
        # memory snapshot, or the warm spare) serves the next run. Tools and packages are sent again.
        self._restart_sandbox(counted=False)
        await self._ensure_ready()

    async def _run(self, code: str) -> CodeOutput:
        # One run at a time: a cancelled run may still be stopping when the next one comes.
        self._run_lock = self._run_lock or asyncio.Lock()
        async with self._run_lock:
            return await self._run_alone(code)

    async def _run_alone(self, code: str) -> CodeOutput:
        self._stop_reason = None
        try:
            await self._ensure_ready()
        except (SandboxDiedError, RequestTimeoutError, ProtocolError) as error:
            return CodeOutput(error=f"The sandbox could not start: {error}")
        note, self._lost_note = self._lost_note, None
        id, future = self._pending.open()
        self._running_id = id
        self._used = True
        try:
            self._send(protocol.request("run", id, code=code, max_output_chars=self.limits.max_output_chars))
            answer = await self._pending.wait(id, future, self.limits.timeout_seconds)
        except RequestTimeoutError:
            answer = await self._stop_run(id, future, f"the code ran longer than the "
                                                       f"{self.limits.timeout_seconds:g} s time limit")
        except asyncio.CancelledError:
            await self._stop_run(id, future, "the run was interrupted")
            raise
        except (SandboxDiedError, ProtocolError) as error:
            answer = {"ok": False, "error": {"message": f"The sandbox stopped while running the code ({error}): "
                                                        f"it was replaced and {LOST_STATE}."}}
        finally:
            self._running_id = None
        result = self._code_output(answer)
        if note:
            result.logs = f"[{note}]\n{result.logs}" if result.logs else f"[{note}]"
        return result

    async def _close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        self._pending.reject_all(SandboxDiedError("the executor was closed"))
        for task in [*self._tool_tasks, *self._background]:
            task.cancel()

    # -- starting ---------------------------------------------------------------------
    async def _ensure_ready(self) -> None:
        self._start_lock = self._start_lock or asyncio.Lock()
        async with self._start_lock:
            for attempt in (1, 2):  # a second time cold, if the snapshot was at fault
                if self._process is None or self._process.returncode is not None:
                    await self._start_process()
                if await self._wait_ready_or_exit():
                    break
                if attempt == 2 or self._exit_reason is None:
                    raise SandboxDiedError(self._exit_reason or "the sandbox did not start")
            if self._fresh:
                self._fresh = False
                await self._request("send_tools", tools=self._tool_specs())
                for name, data in self._wheels.items():  # one message each: a message has a size limit
                    await self._request("install", wheels={name: data})
                if self.variables:
                    await self._request("send_variables", variables=to_wire(self.variables, exact=True))

    async def _wait_ready_or_exit(self) -> bool:
        """True when ready; False when the process exited first. Kills it past the startup timeout."""
        ready = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._reader}, timeout=self.startup_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._ready.is_set():
            return True
        if not done:
            self._kill("it did not start")
            raise RequestTimeoutError(f"the sandbox was not ready after {self.startup_timeout:g} s")
        return False

    async def _start_process(self) -> None:
        snapshot = await self.snapshots.get() if self.snapshots else None
        self._key = secrets.token_hex(16)
        config = {"key": self._key, "pyodideDir": str(self.pyodide_dir), "snapshot": str(snapshot) if snapshot else None,
                  "makeSnapshot": False, "memoryMb": self.limits.max_memory_mb or DEFAULT_MEMORY_MB, "bridge": self.bridge, "spare": self.spare,
                  "pythonFiles": SANDBOX_PYTHON_FILES}
        command = deno_command(self.deno_bin, self.pyodide_dir, extra_reads=[snapshot] if snapshot else [])
        self._ready.clear()
        self._fresh = True
        self._process = process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=_deno_environment(), limit=4 * protocol.MAX_MESSAGE_CHARS,
            # Out of the terminal's process group: Ctrl+C is for the program, which interrupts the code
            # (state kept); it must not kill the sandbox. The process ends when its stdin closes.
            start_new_session=True)
        process.stdin.write(json.dumps(config).encode() + b"\n")
        self._exit_reason = None
        self._reader = self._spawn(self._read_stdout(process, snapshot))
        self._spawn(self._read_stderr(process))

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- messages -----------------------------------------------------------------------
    async def _read_stdout(self, process: asyncio.subprocess.Process, snapshot: Path | None) -> None:
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
                self._on_message(protocol.decode(line[at + len(prefix):]))
            except ProtocolError as error:
                self.logs.append(f"dropped a message: {error}")
                self._on_unreadable(error)
            except Exception as error:  # noqa: BLE001 - nothing the sandbox sends may end this reader
                self.logs.append(f"a message from the sandbox failed: {type(error).__name__}: {error}")
        code = await process.wait()
        if process is self._process:
            self._process = None
            self._ready.clear()
            reason = self._exit_reason = f"the Deno process exited with code {code}" + self._stderr_tail()
            if snapshot is not None and not self.last_ready and self.snapshots:
                self.snapshots.discard(snapshot)  # never started from it: don't try it again
            self._lost(reason)
            self._pending.reject_all(SandboxDiedError(reason))

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        while line := await process.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip()[:2000])

    def _on_message(self, message: dict) -> None:
        kind = message["type"]
        if kind == "result":
            if not self._pending.resolve(message):
                self.logs.append(f"ignored a result for request {message.get('id')}, which nobody waits for")
        elif kind == "tool_call":
            task = asyncio.get_running_loop().create_task(self._answer_tool_call(message))
            self._tool_tasks.add(task)
            task.add_done_callback(self._tool_tasks.discard)
        elif kind == "ready":
            self.last_ready = message
            self._ready.set()
        elif kind == "crashed":
            reason = str(message.get("reason", "unknown")).strip().split("\n")[0][:300]
            self.restarts += 1
            self._ready.clear()
            self._fresh = True
            self._lost(f"the sandbox was restarted ({reason})")
            self._pending.reject_all(SandboxDiedError(reason))
        elif kind == "log":
            self.logs.append(str(message.get("text", ""))[:2000])

    def _on_unreadable(self, error: ProtocolError) -> None:
        """A message of the sandbox that could not be read while code runs: the step fails with what
        happened and the sandbox is replaced, so nothing waits for an answer that was lost."""
        if self._running_id is None:
            return
        self._pending.reject_all(SandboxDiedError(f"the sandbox sent a message that could not be read ({error})"))
        self._restart_sandbox()

    async def _answer_tool_call(self, message: dict) -> None:
        name = message.get("name")
        tool = self.tools.get(name)
        try:
            # Only the code of a step under way calls tools: not a timer or task it left behind.
            if self._running_id is None or self._stop_reason is not None:
                raise AgentToolCallError("tools can be called only while a step's code runs")
            if tool is None:
                raise AgentToolCallError(f"unknown tool {name!r}; the tools are: {', '.join(self.tools)}")
            args, kwargs = from_wire(message.get("args") or []), from_wire(message.get("kwargs") or {})
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise AgentToolCallError(f"malformed call of tool {name!r}")
            answer = {"ok": True, "value": to_wire(await self._on_caller_loop(tool.acall(*args, **kwargs)), exact=True)}
        except AgentError as error:
            answer = {"ok": False, "error": error.to_dict()}
        except Exception as error:  # noqa: BLE001 - name the tool that failed
            answer = {"ok": False, "error": AgentToolExecutionError(
                f"tool {name!r} failed: {type(error).__name__}: {error}").to_dict()}
        answer = {"type": "tool_result", "id": message.get("id"), **answer}
        try:
            self._send(answer)
        except ProtocolError as error:
            self._send({"type": "tool_result", "id": message.get("id"), "ok": False,
                        "error": AgentToolExecutionError(f"tool {name!r} returned a value that cannot be "
                                                         f"sent to the sandbox: {error}").to_dict()})
        except (SandboxDiedError, ConnectionError):
            pass

    async def _on_caller_loop(self, coroutine: Any) -> Any:
        """Tools run on the agent's loop (async tools may hold resources bound to it)."""
        loop = self._caller_loop
        if loop is None or loop.is_closed():
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))

    def _send(self, message: dict) -> None:
        process = self._process
        if process is None or process.returncode is not None or process.stdin.is_closing():
            raise SandboxDiedError("the sandbox process is not running")
        process.stdin.write(protocol.encode(message).encode() + b"\n")

    async def _request(self, kind: str, **fields: Any) -> dict:
        id, future = self._pending.open()
        try:
            self._send(protocol.request(kind, id, **fields))
            answer = await self._pending.wait(id, future, REQUEST_TIMEOUT_SECONDS)
        finally:
            self._pending.drop(id)
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise ProtocolError(f"the sandbox refused {kind!r}: {error.get('type')}: {error.get('message')}")
        return answer

    # -- stopping -------------------------------------------------------------------------
    def _interrupt_run(self, reason: str) -> None:
        if self._running_id is not None:
            self._stop_reason = self._stop_reason or reason
            self._interrupt_now()

    def _interrupt_now(self) -> None:
        for task in list(self._tool_tasks):
            task.cancel()
        try:
            self._send({"type": "interrupt"})
        except SandboxDiedError:
            pass

    async def _stop_run(self, id: int, future: asyncio.Future, reason: str) -> dict:
        """Interrupt the running code; replace the sandbox if it does not stop in time."""
        self._stop_reason = self._stop_reason or reason
        self._interrupt_now()
        try:
            return await self._pending.wait(id, future, STOP_GRACE_SECONDS)
        except (RequestTimeoutError, SandboxDiedError):
            pass
        self._pending.drop(id)
        self._restart_sandbox()
        return {"ok": False, "error": {"message": f"Execution stopped: {self._stop_reason}. The code did not stop "
                                                  f"when interrupted, so the sandbox was restarted and {LOST_STATE}."}}

    def _restart_sandbox(self, counted: bool = True) -> None:
        self._ready.clear()
        self._fresh = True
        self._used = False
        self.restarts += counted
        self.resets += not counted
        try:
            self._send({"type": "restart"})
        except SandboxDiedError:
            self._kill("it was not running")

    def _kill(self, reason: str) -> None:
        if self._process is not None and self._process.returncode is None:
            self.logs.append(f"killed the sandbox process: {reason}")
            self._process.kill()

    def _lost(self, reason: str) -> None:
        self.logs.append(reason)
        if self._running_id is None and self._used:
            self._lost_note = f"Note: {reason}; {LOST_STATE}"
        self._used = False

    # -- helpers -------------------------------------------------------------------------
    def _tool_specs(self) -> list[dict]:
        return [{"name": name, "description": tool.description, "inputs": tool.inputs,
                 "output_type": tool.output_type} for name, tool in self.tools.items()]

    def _code_output(self, answer: dict) -> CodeOutput:
        if not answer.get("ok"):
            error = answer.get("error") or {}
            return CodeOutput(error=str(error.get("message") or error))
        value = answer.get("value") or {}
        result = CodeOutput(output=from_wire(value.get("output")), logs=value.get("logs") or "",
                            is_final_answer=bool(value.get("is_final_answer")), error=value.get("error"))
        if result.error and result.error.startswith(INTERRUPTED_PREFIX) and self._stop_reason:
            result.error = (f"Execution stopped: {self._stop_reason}. Variables defined before that are kept. "
                            "Make the code faster or split the work across steps.")
        if isinstance(result.output, protocol.RemoteValue) and not result.is_final_answer:
            result.logs += f"\n[the last value is {result.output.note}]"
        return result

    def _stderr_tail(self) -> str:
        tail = "\n".join(list(self._stderr)[-10:])
        return f"; its last error output:\n{tail}" if tail else ""


def _deno_environment() -> dict[str, str]:
    """Only what Deno itself needs: no keys of ours reach it (it could not read them anyway)."""
    keep = ("PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    return {**env, "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1"}


def default_sandbox_factory() -> Callable[..., Executor] | None:
    """What `executor_type="sandbox"` makes on CPython: None when Deno is not installed."""
    if find_deno() is None:
        return None
    return DenoSandboxExecutor
