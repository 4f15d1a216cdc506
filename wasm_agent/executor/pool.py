"""A pool of WASM sandboxes per process: an agent borrows one for a run and gives it back after.

On CPython, `executor_type="sandbox"` (the default) makes a `PooledSandboxExecutor`: a
light handle that takes a sandbox from the process's `SandboxPool` when its agent's run
needs one and returns it when the run ends. A sandbox that served another agent is reset
before it is handed out (a fresh interpreter per run: nothing of one run reaches the next);
the same agent continuing with `reset=False` gets its own sandbox back, variables kept,
when it is still idle. Sandboxes are made with the agent's settings (authorized imports,
memory limit, wheels…) and only serve agents with the same ones.

    >>> import wasm_agent
    >>> wasm_agent.configure_sandboxes(max_workers=8, idle_seconds=30)  # doctest: +SKIP

All busy: a run waits for a sandbox, up to `acquire_timeout` seconds, then fails with
`SandboxPoolTimeoutError`. Idle sandboxes end after `idle_seconds`, all of them at
interpreter exit. The pool is thread-safe: agents in threads (sync `run`) and in event
loops (`arun`) share it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ExecutorUnavailableError
from ..platform import HAS_THREADS
from .base import CodeOutput, ExecutionLimits, Executor

LOST_NOTE = ("[Note: the sandbox of the earlier run served another agent meanwhile; all variables were lost; "
             "define them again before use]")


class SandboxPoolTimeoutError(ExecutorUnavailableError):
    """Every sandbox of the pool stayed busy for `acquire_timeout` seconds."""


@dataclasses.dataclass
class PoolSettings:
    """How many sandboxes a process holds and for how long (see `configure_sandboxes`)."""

    # Two sandboxes per core (a sandbox waits on its model most of the time), at least 2, at most 8.
    max_workers: int = dataclasses.field(default_factory=lambda: max(2, min(8, 2 * (os.cpu_count() or 1))))
    max_memory_mb: int | None = None   # each sandbox's memory cap, when the agent's limits set none
    idle_seconds: float = 60.0         # an idle sandbox ends after this long
    acquire_timeout: float = 120.0     # a run waits this long for a sandbox when all are busy


@dataclasses.dataclass(eq=False)
class PooledSandbox:
    """One sandbox held by the pool: its executor, the settings it was made with, who used it last."""

    executor: Executor
    key: tuple
    owner: object | None = None       # the handle whose run used it last (its variables are there)
    busy: bool = True
    used: bool = False                # code ran since the last reset
    idle_since: float = 0.0


class SandboxPool:
    """Sandbox executors shared by the agents of a process.

    `factory(**settings)` makes an executor (default: `DenoSandboxExecutor`). `acquire`
    and `release` are safe from any thread and any event loop.

    >>> pool = SandboxPool(PoolSettings(max_workers=2))              # doctest: +SKIP
    >>> sandbox = await pool.acquire(owner, {"additional_authorized_imports": []})  # doctest: +SKIP
    >>> pool.release(sandbox)                                         # doctest: +SKIP
    """

    def __init__(self, settings: PoolSettings | None = None, factory: Callable[..., Executor] | None = None):
        self.settings = settings or PoolSettings()
        self.factory = factory
        self.sandboxes: list[PooledSandbox] = []
        self.created = 0                       # sandboxes made over the pool's life
        self._lock = threading.RLock()  # reentrant: an agent's finalizer may run (gc) while this thread holds it
        self._checked: set[tuple] = set()
        self._waiters: list[concurrent.futures.Future] = []
        self._reaper: threading.Thread | None = None
        self._wake_reaper = threading.Event()
        self._closed = False

    # -- borrowing ------------------------------------------------------------------
    def check(self, settings: Mapping[str, Any]) -> None:
        """Fail now, not at the first run, when no sandbox can be made with `settings` (Deno or
        Pyodide missing, a package no wheel provides). Making an executor starts nothing."""
        key = settings_key(settings)
        with self._lock:
            if key in self._checked:
                return
        executor = self._make(settings)
        with self._lock:
            self._checked.add(key)
            if len(self.sandboxes) < self.settings.max_workers and not self._closed:
                self.sandboxes.append(PooledSandbox(executor, key, busy=False, idle_since=time.monotonic()))
                self.created += 1
                executor = None
        if executor is not None:
            close_executor_soon(executor)

    async def acquire(self, owner: object, settings: Mapping[str, Any]) -> PooledSandbox:
        """A sandbox made with `settings`, marked busy: `owner`'s previous one if idle, else an
        idle one, else a new one; waits while all `max_workers` are busy."""
        key = settings_key(settings)
        deadline = time.monotonic() + self.settings.acquire_timeout
        while True:
            with self._lock:
                if self._closed:
                    raise ExecutorUnavailableError("the sandbox pool was shut down (the interpreter is exiting)")
                sandbox, evicted = self._take(owner, key, settings)
                waiter = None
                if sandbox is None:
                    waiter = concurrent.futures.Future()
                    self._waiters.append(waiter)
            for old in evicted:
                close_executor_soon(old.executor)
            if sandbox is not None:
                self._start_reaper()
                return sandbox
            left = deadline - time.monotonic()
            try:
                await asyncio.wait_for(asyncio.wrap_future(waiter), max(left, 0))
            except asyncio.TimeoutError:
                with self._lock:
                    if waiter.done() and not waiter.cancelled():
                        self._wake_one_waiter()  # woken as the time ran out: pass it on
                raise SandboxPoolTimeoutError(
                    f"all {self.settings.max_workers} sandboxes stayed busy for {self.settings.acquire_timeout:g} s. "
                    "Allow more with wasm_agent.configure_sandboxes(max_workers=...), or a longer wait with "
                    "acquire_timeout=... (an agent that manages others needs a sandbox for each level).") from None
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    def _take(self, owner: object, key: tuple, settings: Mapping[str, Any]) -> tuple[PooledSandbox | None, list]:
        idle = [s for s in self.sandboxes if not s.busy and s.key == key]
        # Its own first (variables kept), then one nobody used, then any (it will be reset).
        idle.sort(key=lambda s: (s.owner is not owner, s.used, -s.idle_since))
        if idle:
            idle[0].busy = True
            return idle[0], []
        evicted = []
        if len(self.sandboxes) >= self.settings.max_workers:
            others = [s for s in self.sandboxes if not s.busy]  # idle, but made with other settings
            if not others:
                return None, []
            oldest = min(others, key=lambda s: s.idle_since)
            self.sandboxes.remove(oldest)
            evicted.append(oldest)
        sandbox = PooledSandbox(self._make(settings), key)
        self.sandboxes.append(sandbox)
        self.created += 1
        return sandbox, evicted

    def _make(self, settings: Mapping[str, Any]) -> Executor:
        settings = dict(settings)
        limits = settings.pop("limits", None) or ExecutionLimits()
        if limits.max_memory_mb is None and self.settings.max_memory_mb:
            limits = dataclasses.replace(limits, max_memory_mb=self.settings.max_memory_mb)
        if self.factory is None:
            from .sandbox import DenoSandboxExecutor

            self.factory = DenoSandboxExecutor
        return self.factory(limits=dataclasses.replace(limits), **settings)

    def release(self, sandbox: PooledSandbox) -> None:
        """Give a sandbox back (it stays its last owner's until another agent needs it)."""
        with self._lock:
            if sandbox not in self.sandboxes:
                return
            sandbox.busy = False
            sandbox.idle_since = time.monotonic()
            self._wake_one_waiter()

    def forget(self, owner: object) -> None:
        """`owner` will not come back: its idle sandbox is reset now, in the background, so that the
        next agent finds a fresh one without waiting for it."""
        with self._lock:
            dirty = [s for s in self.sandboxes if s.owner is owner and not s.busy and s.used]
            for sandbox in self.sandboxes:
                if sandbox.owner is owner:
                    sandbox.owner = None
            for sandbox in dirty:
                sandbox.busy = True
        for sandbox in dirty:
            threading.Thread(target=self._reset, args=(sandbox,), name="wasm-agent-reset-sandbox", daemon=True).start()

    def _reset(self, sandbox: PooledSandbox) -> None:
        try:
            asyncio.run(sandbox.executor.reset())
        except Exception:  # noqa: BLE001 - a sandbox that cannot be reset does not serve again
            self.discard(sandbox)
            return
        sandbox.used = False
        self.release(sandbox)

    def discard(self, sandbox: PooledSandbox) -> None:
        """A sandbox that cannot serve any more: close it and make room."""
        with self._lock:
            if sandbox in self.sandboxes:
                self.sandboxes.remove(sandbox)
            self._wake_one_waiter()
        close_executor_soon(sandbox.executor)

    def _wake_one_waiter(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                return

    # -- ending -------------------------------------------------------------------------
    def close_idle(self, older_than: float = 0.0) -> int:
        """End the sandboxes idle for more than `older_than` seconds; returns how many."""
        now = time.monotonic()
        with self._lock:
            old = [s for s in self.sandboxes if not s.busy and now - s.idle_since >= older_than]
            for sandbox in old:
                self.sandboxes.remove(sandbox)
        for sandbox in old:
            close_executor(sandbox.executor)
        return len(old)

    def shutdown(self) -> None:
        """End every sandbox, busy or not (at interpreter exit); the pool refuses new runs after."""
        with self._lock:
            self._closed = True
            sandboxes, self.sandboxes = self.sandboxes, []
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._wake_reaper.set()
        for sandbox in sandboxes:
            close_executor(sandbox.executor)

    def _start_reaper(self) -> None:
        with self._lock:
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="wasm-agent-sandbox-pool", daemon=True)
                self._reaper.start()

    def _reap(self) -> None:
        while not self._closed:
            idle = self.settings.idle_seconds
            self._wake_reaper.wait(timeout=min(max(idle / 2, 0.05), 5.0))
            self._wake_reaper.clear()
            if self._closed:
                return
            self.close_idle(older_than=idle)
            with self._lock:
                if not self.sandboxes:
                    self._reaper = None
                    return

    def stats(self) -> dict[str, int]:
        with self._lock:
            busy = sum(s.busy for s in self.sandboxes)
            return {"sandboxes": len(self.sandboxes), "busy": busy, "idle": len(self.sandboxes) - busy,
                    "waiting": len(self._waiters), "created": self.created}


def settings_key(settings: Mapping[str, Any]) -> tuple:
    """What must match for a sandbox to serve other settings: all but the per-run limits."""
    parts = []
    for name, value in sorted(settings.items()):
        if name == "limits":
            value = (value or ExecutionLimits()).max_memory_mb  # time and output limits are set per run
        elif name == "additional_authorized_imports":
            value = tuple(sorted(value or ()))
        parts.append((name, repr(value)))
    return tuple(parts)


class PooledSandboxExecutor(Executor):
    """An agent's sandbox, borrowed from the process's `SandboxPool` for each run.

    The agent sees one executor; a run takes a sandbox at its first `reset`, `send_variables`
    or `run`, and `release()` (the agent calls it when the run ends) gives it back. Tools and
    variables are kept here and sent to whichever sandbox serves the run.

    >>> from wasm_agent import CodeAgent, ScriptedModel
    >>> with CodeAgent([], ScriptedModel(["<code>final_answer(6 * 7)</code>"])) as agent:  # doctest: +SKIP
    ...     agent.run("6 times 7?")
    42
    """

    def __init__(self, additional_authorized_imports: tuple[str, ...] | list[str] = (),
                 limits: ExecutionLimits | None = None, *, pool: SandboxPool | None = None, **settings: Any):
        self.limits = limits or ExecutionLimits()
        self.pool = pool or default_pool()
        self._settings = {"additional_authorized_imports": list(additional_authorized_imports), **settings}
        self.pool.check({**self._settings, "limits": self.limits})
        self._tools: dict[str, Any] = {}
        self._variables: dict[str, Any] = {}
        self._held: PooledSandbox | None = None
        self._previous: PooledSandbox | None = None   # the sandbox of the last run (for reset=False)
        self._fresh_run = True                        # the next run needs a fresh interpreter
        self._has_state = False                       # code ran since the last reset (variables to lose)
        self._note: str | None = None
        self._closed = False

    @property
    def sandbox(self) -> Executor | None:
        """The executor of the sandbox serving this run (or that served the last one)."""
        held = self._held or self._previous
        return held.executor if held else None

    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        self._tools = dict(tools)
        if self._held:
            await self._held.executor.send_tools(self._tools)

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        self._variables.update(variables)
        await (await self._sandbox()).send_variables(dict(variables))

    async def reset(self) -> None:
        self._check_open()
        self._variables = {}
        self._fresh_run, self._has_state = True, False
        if self._held:
            await self._held.executor.reset()
            self._held.used = False

    async def run(self, code: str) -> CodeOutput:
        sandbox = await self._sandbox()
        self._held.used = self._has_state = True
        sandbox.limits.timeout_seconds = self.limits.timeout_seconds
        sandbox.limits.max_output_chars = self.limits.max_output_chars
        result = await sandbox.run(code)
        if self._note:
            result.logs = f"{self._note}\n{result.logs}" if result.logs else self._note
            self._note = None
        return result

    async def interrupt(self) -> None:
        if self._held:
            await self._held.executor.interrupt()

    def request_interrupt(self) -> None:
        held = self._held
        if held:
            held.executor.request_interrupt()

    async def release(self) -> None:
        """The run is over: the sandbox goes back to the pool (it keeps this run's variables until
        another agent needs it; a crashed or closed one is dropped)."""
        held, self._held = self._held, None
        if held is None:
            return
        self._previous = held
        try:
            await held.executor.send_tools({})  # holds no reference to this agent's tools while idle
        except Exception:  # noqa: BLE001 - a sandbox that cannot take a message cannot serve again
            self.pool.discard(held)
            return
        self.pool.release(held)

    async def close(self) -> None:
        await self.release()
        self.pool.forget(self)
        self._closed = True

    def abandon(self) -> None:
        """The agent is gone (its finalizer): what it held goes back, unusable by it again."""
        held, self._held = self._held, None
        if held is not None:
            self.pool.release(held)
        self.pool.forget(self)
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise ExecutorUnavailableError("this agent was closed: make a new one (or use `with CodeAgent(...)`)")

    async def _sandbox(self) -> Executor:
        self._check_open()
        if self._held is not None:
            return self._held.executor
        settings = {**self._settings, "limits": self.limits}
        held = await self.pool.acquire(self, settings)
        try:
            executor = held.executor
            kept = held.owner is self and held is self._previous and not self._fresh_run
            if not kept:
                if self._has_state and not self._fresh_run:
                    self._note = LOST_NOTE
                await executor.reset()  # a fresh interpreter: nothing of another run reaches this one
                held.used = False
            held.owner = self
            await executor.send_tools(self._tools)
            if not kept and self._variables:
                await executor.send_variables(self._variables)
        except BaseException:
            self.pool.discard(held)
            raise
        self._held, self._fresh_run = held, False
        return executor


# -- the process's pool ------------------------------------------------------------------
_default_pool: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """The pool of this process (made on first use; ended at interpreter exit)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = SandboxPool()
        return _default_pool


def configure_sandboxes(*, max_workers: int | None = None, max_memory_mb: int | None = None,
                        idle_seconds: float | None = None, acquire_timeout: float | None = None) -> PoolSettings:
    """Set the limits of this process's sandbox pool; returns the settings now in force.

    `max_workers`: sandboxes at once (runs past it wait for one). `max_memory_mb`: each
    sandbox's memory cap when the agent's `ExecutionLimits` set none. `idle_seconds`: an
    idle sandbox ends after this long. `acquire_timeout`: how long a run waits for a sandbox
    before `SandboxPoolTimeoutError`.

    >>> import wasm_agent
    >>> wasm_agent.configure_sandboxes(max_workers=4).max_workers
    4
    """
    pool = default_pool()
    changes = {name: value for name, value in (("max_workers", max_workers), ("max_memory_mb", max_memory_mb),
               ("idle_seconds", idle_seconds), ("acquire_timeout", acquire_timeout)) if value is not None}
    if changes.get("max_workers", 1) < 1:
        raise ValueError("max_workers must be at least 1")
    with pool._lock:
        pool.settings = dataclasses.replace(pool.settings, **changes)
        pool._wake_one_waiter()  # a larger pool may serve a waiting run now
    pool._wake_reaper.set()
    return pool.settings


# -- ending executors from synchronous code (finalizers, atexit) ----------------------------
def close_executor(executor: Executor, timeout: float = 10.0) -> None:
    """Close an executor from synchronous code, waiting up to `timeout` seconds."""
    done = threading.Event()

    def close() -> None:
        try:
            asyncio.run(executor.close())
        except Exception:  # noqa: BLE001 - closing is best effort; the process dies with its stdin anyway
            pass
        finally:
            done.set()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        close()
        return
    threading.Thread(target=close, name="wasm-agent-close-sandbox", daemon=True).start()
    done.wait(timeout)


def close_executor_soon(executor: Executor) -> None:
    """Close an executor without waiting (from a finalizer or a pool under its lock's caller)."""
    threading.Thread(target=close_executor, args=(executor,), name="wasm-agent-close-sandbox", daemon=True).start()


def release_when_dropped(executor: Executor, owned: bool) -> Callable[[], None]:
    """What an agent's finalizer does with its executor: a pooled one goes back to the pool, one the
    agent made is closed, one it was given is left to its owner."""
    def release() -> None:
        if isinstance(executor, PooledSandboxExecutor):
            executor.abandon()
        elif owned and HAS_THREADS:  # in a browser the page's lifetime bounds its sandbox
            close_executor_soon(executor)
    return release


@atexit.register
def _end_sandboxes_at_exit() -> None:
    if _default_pool is not None:
        _default_pool.shutdown()

