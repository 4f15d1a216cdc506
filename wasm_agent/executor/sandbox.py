"""The WASM sandbox from CPython: generated code runs in Pyodide inside a Deno worker.

`DenoSandboxExecutor` is a sandbox of a `SandboxHost` (`sandbox_host.py`): a
`deno` subprocess (from the `deno` PyPI package) that may read only Pyodide's
files and ours: no network, no writes, no environment, no subprocesses, no
FFI. There the code runs in a worker with no permissions at all
(`sandbox_main.py` driving `CodeRunner`), driven by the same `SandboxClient`
as in the browser (web/sandbox-client.js: readiness, timeouts, interrupt then
restart, fresh workers). This class relays the executor contract to that
client as JSON lines and runs the tools the code calls, here in this process.

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
import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import AgentError, AgentToolCallError, AgentToolExecutionError, ExecutorUnavailableError
from .base import CodeOutput, ExecutionLimits, Executor
from .distribution import distribution_wheels
from .packages import wheels_from_folder
from .protocol import ProtocolError, RemoteValue, SandboxDiedError, WireClasses, dumps, from_wire, to_wire
from .sandbox_host import DEFAULT_PYODIDE_DIR, SandboxHost, find_deno, shared_host

__all__ = ["DEFAULT_PYODIDE_DIR", "DenoSandboxExecutor", "SandboxHost", "default_sandbox_factory", "find_deno",
           "shared_host"]

STOP_GRACE_SECONDS = 5.0      # stopped code gets this long to unwind before the sandbox is replaced (a loaded
                              # machine took over 2 s to pass an interrupt and its answer through)
DEFAULT_MEMORY_MB = 1024      # without limits.max_memory_mb: the sandbox's wasm memory stops growing here
                              # (MemoryError in the code), and its JS heap may take 512 MB more before
                              # the sandbox is replaced
LOST_STATE = "all variables were lost; define them again before use"


class DenoSandboxExecutor(Executor):
    """Runs generated code in a Pyodide sandbox held by a Deno subprocess.

    One sandbox serves every step of a run (state is kept between steps).
    Past the time limit the code is interrupted (KeyboardInterrupt, state
    kept); code that does not stop, a crash or a process that died is
    replaced by a fresh sandbox, and the next observation says the variables
    were lost. Code that does not stop keeps its thread busy until its Deno
    process ends: the sandbox's next step runs in a new process, and the old
    one ends as soon as no other sandbox in it is in a run (`SandboxHost`).
    `close()` ends the sandbox (and its process, unless shared).

    `host`: the `SandboxHost` (Deno process) this sandbox lives in. By default each executor starts its
    own; several executors given one host (`host=shared_host()`, the process-wide one, or a
    `SandboxHost(...)` of your own) are sandboxes of one process, each with its own permissionless
    workers, so the runtime and Pyodide's compiled module are paid once. With a host, `pyodide_dir`,
    `deno_bin`, `snapshot` and `cache_dir` are the host's.
    `pyodide_dir` holds Pyodide's files (default: the repo's
    `node_modules/pyodide`, from `npm ci`). `snapshot=True` starts from a
    memory snapshot cached under `cache_dir` (made once, on first use).
    `spare=True` keeps a second sandbox booted in the process, so that a
    restart after a timeout or crash is immediate; it costs about 80 MiB
    (the process holds about 240 MiB without it) and CPU while it boots, and
    restarting from the snapshot takes well under a second anyway.
    Memory: `limits.max_memory_mb` (default `DEFAULT_MEMORY_MB`, 1024) caps the sandbox's wasm memory
    (past it the code gets MemoryError and the sandbox goes on); once the sandbox's own memory (its
    worker's JS heap, ArrayBuffers and wasm memories) passes that figure plus 512 MB, it is replaced,
    and other sandboxes of the process are not (docs/sandboxes.md, "Memory").
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
                 host: SandboxHost | None = None, **_: Any):
        self.additional_authorized_imports = list(additional_authorized_imports)
        self.limits = limits or ExecutionLimits()
        self.host = host or SandboxHost(pyodide_dir=pyodide_dir, deno_bin=deno_bin, snapshot=snapshot,
                                        cache_dir=cache_dir)
        self._owns_host = host is None
        if self.host.deno_bin is None:
            raise ExecutorUnavailableError("The sandbox needs Deno: `pip install deno` (or set WASM_AGENT_DENO).")
        self.deno_bin, self.pyodide_dir = self.host.deno_bin, self.host.pyodide_dir
        missing = self.host.missing_files()
        if missing:
            raise ExecutorUnavailableError(
                f"Pyodide's files are missing from {self.pyodide_dir} ({', '.join(missing)}). Install the "
                "wasm-agent wheel (it ships them), run `npm ci` in a wasm-agent checkout, or pass pyodide_dir= a "
                "folder holding the pyodide npm package.")
        wheels = wheels or os.environ.get("WASM_AGENT_WHEELS") or None
        packages_url = packages_url or os.environ.get("WASM_AGENT_PACKAGES_URL") or None
        # Checked now, not at the model's first import: a package no wheel provides fails here.
        if packages_url is None:
            self._wheels = wheels_from_folder(wheels, self.additional_authorized_imports)
        else:
            lock = packages_lock or self.pyodide_dir / "pyodide-lock.json"
            self._wheels = distribution_wheels(self.additional_authorized_imports, packages_url=packages_url,
                                               lock=Path(lock), site_folder=wheels, cache_dir=packages_cache)
        if bridge not in ("atomics", "jspi"):
            raise ValueError("bridge must be 'atomics' or 'jspi'")
        self.bridge = bridge
        self.spare = spare
        self.startup_timeout = startup_timeout
        self.snapshots = self.host.snapshots
        self.tools: dict[str, Any] = {}
        self._sandbox_tools: list[dict] | None = None  # the tool specs the sandbox has (None: not known)
        self.variables: dict[str, Any] = {}
        self.classes = WireClasses()         # what values from the sandbox may be rebuilt as: new for each run
        self.last_ready: dict = {}           # the latest `ready` event (startup_ms, snapshot, bridge, ...)
        self.restarts = 0                    # sandboxes replaced because of a failure
        self.resets = 0                      # sandboxes replaced for a new run (`reset()` after code ran)
        self.logs: collections.deque[str] = collections.deque(maxlen=200)  # `log` events, crashes
        self.sandbox_id = self.host.register(self)
        self._ready_seen = False             # it became ready since it was last opened
        self._used = False                   # code ran in this process's sandbox: losing it loses state
        self._lost_note: str | None = None   # the process ended between runs: tell the model at its next step
        self._running = False
        # Ctrl+C may come before a run's code is sent (the run is on its way to the host's loop, or its
        # sandbox opens): it is kept for that run, and sent right after the run's request.
        self._on_their_way = 0               # runs asked for that the host's loop has not taken up yet
        self._count_lock = threading.Lock()  # they are counted from the caller's thread and the host's
        self._sending = False                # a run is taken up and its request not sent yet
        self._interrupt_wanted = False
        self._in_run = False                 # a run is under way (from its first step to `release`/`reset`)
        self._tool_tasks: set[asyncio.Task] = set()
        self._run_lock: asyncio.Lock | None = None
        self._caller_loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # -- the executor contract ------------------------------------------------------
    # Everything runs on the host's loop (a thread of its own), so the executor works from any loop
    # (sync `agent.run()` makes a new one per call) and `request_interrupt` works from any thread.
    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        await self._on_host(self._send_tools(dict(tools)))

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        await self._on_host(self._send_variables(dict(variables)))

    async def reset(self) -> None:
        await self._on_host(self._reset())

    async def start(self) -> None:
        await self._on_host(self._start())

    async def run(self, code: str) -> CodeOutput:
        ticket = [True]  # the run is on its way until the host's loop takes it up (or it never gets there)
        with self._count_lock:
            self._on_their_way += 1
        try:
            return await self._on_host(self._run(code, ticket))
        finally:
            self._taken(ticket)

    def _taken(self, ticket: list[bool]) -> None:
        with self._count_lock:
            if ticket[0]:
                ticket[0] = False
                self._on_their_way -= 1

    async def interrupt(self) -> None:
        self.request_interrupt()

    def request_interrupt(self) -> None:
        """Stop the running code (thread-safe, returns at once)."""
        if self._running or self._sending or self._on_their_way:
            self.host.call_soon(self._interrupt)

    @property
    def running(self) -> bool:
        """Code of a step is running in the sandbox."""
        return self._running

    @property
    def pid(self) -> int | None:
        """The Deno process this sandbox is open in (None when it is not open)."""
        return self.host.pid_of(self.sandbox_id)

    @property
    def in_run(self) -> bool:
        """A run is under way: its variables live in the sandbox's process (which then stays)."""
        return self._in_run

    async def release(self) -> None:
        """The run is over: a process retired meanwhile may end; the next run may open elsewhere."""
        if not self._closed and not self.host.closed:
            await self.host.call(self._release())

    async def close(self) -> None:
        if not self._closed and not self.host.closed:
            with contextlib.suppress(SandboxDiedError):
                await self.host.call(self._close())
            if self._owns_host:
                await self.host.aclose()
        self._closed = True

    async def _on_host(self, coroutine: Any) -> Any:
        if self._closed:
            coroutine.close()
            raise SandboxDiedError("the executor was closed")
        self._caller_loop = asyncio.get_running_loop()
        return await self.host.call(coroutine)

    # -- on the host's loop ------------------------------------------------------------
    def _is_open(self) -> bool:
        return self.host.serves(self.sandbox_id, self._in_run)

    async def _release(self) -> None:
        self._in_run = False
        self.host.idle(self.sandbox_id)

    async def _send_tools(self, tools: dict[str, Any]) -> None:
        # Sent with the next run (`_tools_to_sandbox`), and only if they changed: a pooled sandbox given back
        # (its tools dropped here) and taken by an agent with the same tools costs no message.
        self.tools = tools
        dumps(self._tool_specs(), "the tools")  # refused now, not at the next run

    async def _tools_to_sandbox(self) -> None:
        """The sandbox (open) gets the current tools before code runs there, unless it has them."""
        specs = self._tool_specs()
        if specs != self._sandbox_tools:
            self._sandbox_tools = None
            await self.host.request(self.sandbox_id, "send_tools", tools=specs)
            self._sandbox_tools = specs

    async def _send_variables(self, variables: dict[str, Any]) -> None:
        self.variables.update(variables)
        if self._is_open():
            await self.host.request(self.sandbox_id, "send_variables",
                                    variables=to_wire(variables, exact=True, classes=self.classes))

    async def _reset(self) -> None:
        self.variables, self.classes = {}, WireClasses()  # no class an earlier run was sent is rebuilt in this one
        self._lost_note, self._used = None, False  # a new run: nothing of earlier ones is expected
        await self._release()  # a new run may start in another process (when this one is retired)
        if self._is_open():  # the client gives a fresh worker when code ran in this one
            await self.host.request(self.sandbox_id, "reset")

    async def _ensure_open(self) -> None:
        if self._is_open():
            return
        self._ready_seen, self._used = False, False
        self._sandbox_tools = self._tool_specs()
        await self.host.open(self.sandbox_id, tools=self._sandbox_tools, wheels=self._wheels,
                             variables=to_wire(self.variables, exact=True, classes=self.classes), options={
                                 "memoryMb": self.limits.max_memory_mb or DEFAULT_MEMORY_MB, "bridge": self.bridge,
                                 "spare": self.spare, "graceMs": STOP_GRACE_SECONDS * 1000,
                                 "bootTimeoutMs": self.startup_timeout * 1000})

    async def _start(self) -> None:
        await self._ensure_open()
        # Answered once the sandbox is ready (requests wait for it): the boot is over when this returns.
        await self.host.request(self.sandbox_id, "send_variables", timeout=self.startup_timeout, variables={})

    async def _run(self, code: str, ticket: list[bool]) -> CodeOutput:
        # One run at a time: a cancelled run may still be stopping when the next one comes.
        self._run_lock = self._run_lock or asyncio.Lock()
        async with self._run_lock:
            self._taken(ticket)
            self._sending = True
            try:
                return await self._run_alone(code)
            finally:
                self._sending = self._interrupt_wanted = False

    async def _run_alone(self, code: str) -> CodeOutput:
        try:
            await self._ensure_open()
        except (OSError, SandboxDiedError, ProtocolError) as error:
            return CodeOutput(error=f"The sandbox could not start: {error}")
        try:
            await self._tools_to_sandbox()
        except SandboxDiedError as error:
            return CodeOutput(error=f"The sandbox stopped before the code ran ({error}); {LOST_STATE}.")
        except ProtocolError as error:
            return CodeOutput(error=f"The tools could not be sent to the sandbox: {error}")
        note, self._lost_note = self._lost_note, None
        timeout = self.limits.timeout_seconds
        request = asyncio.ensure_future(self.host.request(
            self.sandbox_id, "run", code=code, max_output_chars=self.limits.max_output_chars,
            timeout_ms=timeout * 1000 if timeout else None))
        self._running = self._used = self._in_run = True
        try:
            try:
                await asyncio.sleep(0)  # the request's first step sends the run: interrupts go after it
            finally:
                self._sending = False
            if self._interrupt_wanted:
                self._interrupt()
            answer = await asyncio.shield(request)
        except asyncio.CancelledError:
            # The step was cancelled: stop the code (the client restarts the sandbox if it does not
            # stop) and wait for that, so the next run finds the sandbox idle.
            self._interrupt()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(request, STOP_GRACE_SECONDS + 10)
            raise
        except (SandboxDiedError, ProtocolError) as error:
            started = self._ready_seen
            answer = {"output": None, "logs": "", "is_final_answer": False,
                      "error": f"The sandbox stopped while running the code ({error}): it was replaced and "
                               f"{LOST_STATE}." if started else f"The sandbox could not start: {error}"}
        finally:
            self._running = False
            for task in list(self._tool_tasks):  # the step is over: its tool calls get no answer
                task.cancel()
            self.host.idle(self.sandbox_id)  # a retired process may have waited for this answer
        result = self._code_output(answer)
        if note:
            result.logs = f"[{note}]\n{result.logs}" if result.logs else f"[{note}]"
        return result

    async def _close(self) -> None:
        for task in list(self._tool_tasks):
            task.cancel()
        self._running = self._in_run = False
        self.host.forget(self.sandbox_id)  # its workers end

    def _interrupt(self) -> None:
        if self._sending or (not self._running and self._on_their_way):
            self._interrupt_wanted = True  # for the run on its way: sent once its request is
            return
        if not self._running:
            return
        for task in list(self._tool_tasks):
            task.cancel()
        with contextlib.suppress(SandboxDiedError):
            self.host.send({"type": "interrupt", "sandbox": self.sandbox_id})

    # -- from the host (on its loop) -------------------------------------------------------
    def on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "ready":
            self.last_ready = {key: value for key, value in event.items() if key != "type"}
            self._ready_seen = True
        elif kind in ("crashed", "restarted", "lost"):
            self.restarts += 1
            self.logs.append(str(event.get("reason", kind))[:2000])
        elif kind == "reset":
            self.resets += 1
        elif kind in ("log", "dropped"):
            self.logs.append(str(event.get("text") or event.get("reason") or "")[:2000])

    def on_process_exit(self, reason: str) -> None:
        self.logs.append(reason)
        self.restarts += 1
        if not self._running and self._used:
            self._lost_note = f"Note: the sandbox was restarted ({reason}); {LOST_STATE}"
        self._used = False

    def on_tool_call(self, message: dict) -> None:
        task = asyncio.get_running_loop().create_task(self._answer_tool_call(message))
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    async def _answer_tool_call(self, message: dict) -> None:
        name = message["name"]
        tool = self.tools.get(name)
        try:
            if tool is None:
                raise AgentToolCallError(f"unknown tool {name!r}; the tools are: {', '.join(self.tools)}")
            args, kwargs = from_wire(message["args"], self.classes), from_wire(message["kwargs"], self.classes)
            value = await self._on_caller_loop(tool.acall(*args, **kwargs))
            answer = {"ok": True, "value": to_wire(value, exact=True, classes=self.classes)}
        except asyncio.CancelledError:
            answer = {"ok": False, "error": AgentToolCallError(f"tool {name!r} was stopped with the step").to_dict()}
        except AgentError as error:
            answer = {"ok": False, "error": error.to_dict()}
        except Exception as error:  # noqa: BLE001 - name the tool that failed
            answer = {"ok": False, "error": AgentToolExecutionError(
                f"tool {name!r} failed: {type(error).__name__}: {error}").to_dict()}
        reply = {"type": "tool_result", "sandbox": self.sandbox_id, "id": message["id"]}
        try:
            self.host.send({**reply, **answer})
        except ProtocolError as error:
            self.host.send({**reply, "ok": False, "error": AgentToolExecutionError(
                f"tool {name!r} returned a value that cannot be sent to the sandbox: {error}").to_dict()})
        except (SandboxDiedError, ConnectionError):
            pass

    async def _on_caller_loop(self, coroutine: Any) -> Any:
        """Tools run on the agent's loop (async tools may hold resources bound to it)."""
        loop = self._caller_loop
        if loop is None or loop.is_closed():
            return await coroutine
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))

    # -- helpers -------------------------------------------------------------------------
    def _tool_specs(self) -> list[dict]:
        return [{"name": name, "description": tool.description, "inputs": tool.inputs,
                 "output_type": tool.output_type} for name, tool in self.tools.items()]

    def _code_output(self, answer: dict) -> CodeOutput:
        result = CodeOutput(output=from_wire(answer.get("output"), self.classes), logs=answer.get("logs") or "",
                            is_final_answer=bool(answer.get("is_final_answer")), error=answer.get("error"))
        if isinstance(result.output, RemoteValue) and not result.is_final_answer:
            result.logs += f"\n[the last value is {result.output.note}]"
        return result


def default_sandbox_factory() -> Callable[..., Executor] | None:
    """What `executor_type="sandbox"` makes on CPython: None when Deno is not installed."""
    if find_deno() is None:
        return None
    return DenoSandboxExecutor
