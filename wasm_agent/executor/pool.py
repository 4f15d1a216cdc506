"""A pool of WASM sandboxes per process: an agent borrows one for a run and gives it back after.

On CPython, `executor_type="sandbox"` (the default) makes a `PooledSandboxExecutor`
(pooled_executor.py): a light handle that takes a sandbox from the process's `SandboxPool`
when its agent's run needs one and returns it when the run ends. A sandbox that served another agent is reset
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
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..errors import ExecutorUnavailableError
from .base import ExecutionLimits, Executor


# What a sandbox's host (its process) is made with; the rest of the settings are each sandbox's.
HOST_SETTINGS = ("pyodide_dir", "deno_bin", "snapshot", "cache_dir")


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
    # Fresh sandboxes kept booted for the next agents (within max_workers), from the first agent on: a burst of
    # new agents up to this many starts at once instead of waiting for boots (one per core, 1 to 4).
    spares: int = dataclasses.field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    # Sandboxes sharing one process (its runtime, compiled Pyodide and snapshot, each in workers of its own):
    # fewer processes use less memory (8 warm sandboxes: 105 MiB each in one process, 124 in two); a process
    # that crashes costs each of its sandboxes the step it was running.
    sandboxes_per_process: int = 8


@dataclasses.dataclass(eq=False)
class PooledSandbox:
    """One sandbox held by the pool: its executor, the settings it was made with, who used it last."""

    executor: Executor
    key: tuple
    owner: object | None = None       # the handle whose run used it last (its variables are there)
    busy: bool = True
    preparing: bool = False           # booting or being reset in the background (busy meanwhile)
    host: Any = None                  # the process it lives in, shared with others (with a host factory)
    used: bool = False                # code ran or variables came since the last reset (a fresh one is not reset)
    idle_since: float = 0.0


class SandboxPool:
    """Sandbox executors shared by the agents of a process.

    `factory(**settings)` makes an executor (default: `DenoSandboxExecutor`); with a
    `host_factory(**host_settings)` (default: `SandboxHost`, a Deno process), the pool puts up to
    `sandboxes_per_process` sandboxes in each host (`factory(host=..., **settings)`) and closes a
    host when its last sandbox ends. `acquire` and `release` are safe from any thread and any event loop.

    >>> pool = SandboxPool(PoolSettings(max_workers=2))              # doctest: +SKIP
    >>> sandbox = await pool.acquire(owner, {"additional_authorized_imports": []})  # doctest: +SKIP
    >>> pool.release(sandbox)                                         # doctest: +SKIP
    """

    def __init__(self, settings: PoolSettings | None = None, factory: Callable[..., Executor] | None = None,
                 host_factory: Callable[..., Any] | None = None):
        self.settings = settings or PoolSettings()
        self.factory, self.host_factory = factory, host_factory
        if factory is None:
            self.factory, self.host_factory = _deno_factories()
        self._hosts: dict[Any, list] = {}      # host -> [its settings key, sandboxes in it]
        self.sandboxes: list[PooledSandbox] = []
        self.created = 0                       # sandboxes made over the pool's life
        self._lock = threading.RLock()  # reentrant: an agent's finalizer may run (gc) while this thread holds it
        self._checked: set[tuple] = set()
        self._waiters: list[tuple[concurrent.futures.Future, tuple]] = []   # (wake-up, settings key)
        self._settings_of: dict[tuple, dict] = {}   # the settings each key stands for, to make spares
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
        with self._lock:
            sandbox = self._new_sandbox(settings, key)
            self._checked.add(key)
            self._settings_of[key] = dict(settings)
            kept = len(self.sandboxes) < self.settings.max_workers and not self._closed
            if kept:
                # With spares, it boots now, in the background: the agent's first run finds it warm.
                sandbox.busy = sandbox.preparing = self.settings.spares > 0
                sandbox.idle_since = time.monotonic()
                self.sandboxes.append(sandbox)
                self.created += 1
        if not kept:
            self._end([sandbox], wait=False)
        elif sandbox.preparing:
            self._prepare(sandbox, lambda executor: executor.start())
            self._keep_spares(key)

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
                    self._waiters.append((waiter, key))
            self._end(evicted, wait=False)
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
                    self._waiters = [(w, k) for w, k in self._waiters if w is not waiter]

    def _take(self, owner: object, key: tuple, settings: Mapping[str, Any]) -> tuple[PooledSandbox | None, list]:
        self._settings_of[key] = dict(settings)
        idle = [s for s in self.sandboxes if not s.busy and s.key == key]
        # Its own first (variables kept), then one nobody used, then any (it will be reset).
        idle.sort(key=lambda s: (s.owner is not owner, s.used, -s.idle_since))
        if idle:
            idle[0].busy = True
            return idle[0], []
        # One being reset or booted is ready sooner than a new one would be: wait for it.
        preparing = sum(s.preparing and s.key == key for s in self.sandboxes)
        if preparing > sum(k == key for _, k in self._waiters):
            return None, []
        evicted = []
        if len(self.sandboxes) >= self.settings.max_workers:
            others = [s for s in self.sandboxes if not s.busy]  # idle, but made with other settings
            if not others:
                return None, []
            oldest = min(others, key=lambda s: s.idle_since)
            self.sandboxes.remove(oldest)
            evicted.append(oldest)
        sandbox = self._new_sandbox(settings, key)
        self.sandboxes.append(sandbox)
        self.created += 1
        return sandbox, evicted

    def _new_sandbox(self, settings: Mapping[str, Any], key: tuple) -> PooledSandbox:
        """A sandbox made with `settings` (starts nothing), in a host with room when hosts are shared."""
        settings = dict(settings)
        limits = settings.pop("limits", None) or ExecutionLimits()
        if limits.max_memory_mb is None and self.settings.max_memory_mb:
            limits = dataclasses.replace(limits, max_memory_mb=self.settings.max_memory_mb)
        host = None
        if self.host_factory is not None:
            host_settings = {name: settings.pop(name) for name in HOST_SETTINGS if name in settings}
            host_key = repr(sorted(host_settings.items()))
            with_room = [h for h, (k, count) in self._hosts.items()
                         if k == host_key and count < self.settings.sandboxes_per_process and not h.closed]
            # The fullest first: fewer processes, less memory.
            host = max(with_room, key=lambda h: self._hosts[h][1]) if with_room else self.host_factory(**host_settings)
            self._hosts.setdefault(host, [host_key, 0])[1] += 1
            settings["host"] = host
        try:
            executor = self.factory(limits=dataclasses.replace(limits), **settings)
        except BaseException:
            self._host_left(host)
            raise
        return PooledSandbox(executor, key, host=host)

    def _host_left(self, host: Any) -> Any:
        """One sandbox fewer in `host`; returns the host when it is empty now (to be closed)."""
        if host is None or host not in self._hosts:
            return None
        self._hosts[host][1] -= 1
        if self._hosts[host][1] > 0:
            return None
        del self._hosts[host]
        return host

    def _end(self, sandboxes: list[PooledSandbox], wait: bool) -> None:
        """Close these sandboxes (removed from the pool already), and the hosts they leave empty."""
        if not sandboxes:
            return
        with self._lock:
            empty = [host for host in map(self._host_left, [s.host for s in sandboxes]) if host is not None]

        def end() -> None:
            for sandbox in sandboxes:
                close_executor(sandbox.executor)
            for host in empty:
                _run_to_end(host.aclose())

        if wait:
            end()
        else:
            threading.Thread(target=end, name="wasm-agent-close-sandbox", daemon=True).start()

    def release(self, sandbox: PooledSandbox) -> None:
        """Give a sandbox back (it stays its last owner's until another agent needs it)."""
        with self._lock:
            if sandbox not in self.sandboxes:
                return
            sandbox.busy = sandbox.preparing = False
            sandbox.idle_since = time.monotonic()
            self._wake_one_waiter()
        self._keep_spares(sandbox.key)

    def forget(self, owner: object) -> None:
        """`owner` will not come back: its idle sandbox is reset now, in the background, so that the
        next agent finds a fresh one without waiting for it."""
        with self._lock:
            dirty = [s for s in self.sandboxes if s.owner is owner and not s.busy and s.used]
            for sandbox in self.sandboxes:
                if sandbox.owner is owner:
                    sandbox.owner = None
            for sandbox in dirty:  # busy from here: no agent may take it before its reset is over
                sandbox.busy = sandbox.preparing = True
        for sandbox in dirty:
            self._prepare(sandbox, lambda executor: executor.reset())

    def _keep_spares(self, key: tuple) -> None:
        """Boot fresh sandboxes in the background until `spares` are ready (or on their way) for `key`."""
        with self._lock:
            ready = sum(s.key == key and (s.preparing or not (s.busy or s.used)) for s in self.sandboxes)
            settings = self._settings_of.get(key)
            missing = min(self.settings.spares - ready, self.settings.max_workers - len(self.sandboxes))
            if settings is None or self._closed or missing <= 0:
                return
            new = [self._new_sandbox(settings, key) for _ in range(missing)]
            for sandbox in new:  # busy until booted: taken now, its boot would race the agent's run
                sandbox.busy = sandbox.preparing = True
            self.sandboxes.extend(new)
            self.created += len(new)
        for sandbox in new:
            self._prepare(sandbox, lambda executor: executor.start())

    def _prepare(self, sandbox: PooledSandbox, step: Callable[[Executor], Awaitable[None]]) -> None:
        """Reset or boot a sandbox in a thread of its own; the caller marked it busy (and preparing)
        under the lock that found it, and it is idle and fresh after."""
        def prepare() -> None:
            try:
                asyncio.run(step(sandbox.executor))
            except Exception:  # noqa: BLE001 - a sandbox that cannot be prepared does not serve
                self.discard(sandbox)
                return
            sandbox.used = False
            self.release(sandbox)

        threading.Thread(target=prepare, name="wasm-agent-prepare-sandbox", daemon=True).start()

    def discard(self, sandbox: PooledSandbox) -> None:
        """A sandbox that cannot serve any more: close it and make room."""
        with self._lock:
            if sandbox not in self.sandboxes:
                return
            self.sandboxes.remove(sandbox)
            self._wake_one_waiter()
        self._end([sandbox], wait=False)

    def _wake_one_waiter(self) -> None:
        for waiter, _ in self._waiters:
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
        self._end(old, wait=True)
        return len(old)

    def shutdown(self) -> None:
        """End every sandbox, busy or not (at interpreter exit); the pool refuses new runs after."""
        with self._lock:
            self._closed = True
            sandboxes, self.sandboxes = self.sandboxes, []
            for waiter, _ in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._wake_reaper.set()
        self._end(sandboxes, wait=True)

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
                        idle_seconds: float | None = None, acquire_timeout: float | None = None,
                        spares: int | None = None, sandboxes_per_process: int | None = None) -> PoolSettings:
    """Set the limits of this process's sandbox pool; returns the settings now in force.

    `max_workers`: sandboxes at once (runs past it wait for one). `max_memory_mb`: each
    sandbox's memory cap when the agent's `ExecutionLimits` set none. `idle_seconds`: an
    idle sandbox ends after this long. `acquire_timeout`: how long a run waits for a sandbox
    before `SandboxPoolTimeoutError`. `spares`: fresh sandboxes kept booted for the next agent.
    `sandboxes_per_process`: sandboxes sharing one Deno process (for sandboxes made from now on).

    >>> import wasm_agent
    >>> wasm_agent.configure_sandboxes(max_workers=4).max_workers
    4
    """
    pool = default_pool()
    changes = {name: value for name, value in (("max_workers", max_workers), ("max_memory_mb", max_memory_mb),
               ("idle_seconds", idle_seconds), ("acquire_timeout", acquire_timeout), ("spares", spares),
               ("sandboxes_per_process", sandboxes_per_process)) if value is not None}
    if changes.get("max_workers", 1) < 1 or changes.get("sandboxes_per_process", 1) < 1:
        raise ValueError("max_workers and sandboxes_per_process must be at least 1")
    with pool._lock:
        pool.settings = dataclasses.replace(pool.settings, **changes)
        pool._wake_one_waiter()  # a larger pool may serve a waiting run now
    pool._wake_reaper.set()
    return pool.settings


# -- ending executors from synchronous code (finalizers, atexit) ----------------------------
def _run_to_end(coroutine: Awaitable[None], timeout: float = 10.0) -> None:
    """Run a closing coroutine from synchronous code (in a thread when a loop runs here), up to `timeout` s."""
    done = threading.Event()

    def run() -> None:
        try:
            asyncio.run(coroutine)
        except Exception:  # noqa: BLE001 - closing is best effort; a sandbox process ends with its stdin anyway
            pass
        finally:
            done.set()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        run()
        return
    threading.Thread(target=run, name="wasm-agent-close-sandbox", daemon=True).start()
    done.wait(timeout)


def close_executor(executor: Executor, timeout: float = 10.0) -> None:
    """Close an executor from synchronous code, waiting up to `timeout` seconds."""
    _run_to_end(executor.close(), timeout)


def close_executor_soon(executor: Executor) -> None:
    """Close an executor without waiting (from a finalizer or a pool under its lock's caller)."""
    threading.Thread(target=close_executor, args=(executor,), name="wasm-agent-close-sandbox", daemon=True).start()


def _deno_factories() -> tuple[Callable[..., Executor], Callable[..., Any] | None]:
    """The executor and host of the Deno sandbox (imported when a pool first needs them)."""
    from .sandbox import DenoSandboxExecutor
    from .sandbox_host import SandboxHost

    return DenoSandboxExecutor, SandboxHost


@atexit.register
def _end_sandboxes_at_exit() -> None:
    if _default_pool is not None:
        _default_pool.shutdown()

