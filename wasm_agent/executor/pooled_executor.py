"""An agent's handle on the process's sandbox pool: a sandbox borrowed for each run (see pool.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ExecutorUnavailableError
from ..platform import HAS_THREADS
from .base import CodeOutput, ExecutionLimits, Executor
from .pool import PooledSandbox, SandboxPool, close_executor_soon, default_pool

LOST_NOTE = ("[Note: the sandbox of the earlier run served another agent meanwhile; all variables were lost; "
             "define them again before use]")


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
        executor = await self._sandbox()
        self._held.used = True  # state of this agent's: reset before another agent gets the sandbox
        await executor.send_variables(dict(variables))

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
            await held.executor.release()  # its process may end now (one retired after a stuck worker)
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
                if held.used:  # a fresh interpreter: nothing of another run reaches this one
                    await executor.reset()
                    held.used = False
            held.owner = self
            await executor.send_tools(self._tools)
            if not kept and self._variables:
                held.used = True
                await executor.send_variables(self._variables)
        except BaseException:
            self.pool.discard(held)
            raise
        self._held, self._fresh_run = held, False
        return executor


def release_when_dropped(executor: Executor, owned: bool) -> Callable[[], None]:
    """What an agent's finalizer does with its executor: a pooled one goes back to the pool, one the
    agent made is closed, one it was given is left to its owner."""
    def release() -> None:
        if isinstance(executor, PooledSandboxExecutor):
            executor.abandon()
        elif owned and HAS_THREADS:  # in a browser the page's lifetime bounds its sandbox
            close_executor_soon(executor)
    return release
