"""Executors: where a CodeAgent's code runs."""

from __future__ import annotations

from typing import Any, Callable

from ..errors import ExecutorUnavailableError
from .base import CodeOutput, ExecutionLimits, Executor

EXECUTOR_TYPES = ("sandbox", "inprocess")

# A host that provides the WASM sandbox (the browser agent worker, the Deno
# runner) registers how to make one; CPython's default comes from `sandbox`.
_sandbox_factory: Callable[..., Executor] | None = None


def register_sandbox_factory(factory: Callable[..., Executor] | None) -> None:
    """Set what `executor_type="sandbox"` creates on this platform."""
    global _sandbox_factory
    _sandbox_factory = factory


def create_executor(executor_type: str, **kwargs: Any) -> Executor:
    """Make the executor named by `executor_type` ("sandbox" or "inprocess")."""
    if executor_type == "inprocess":
        from .inprocess import InProcessExecutor

        return InProcessExecutor(**kwargs)
    if executor_type == "local":
        raise ValueError("executor_type='local' is smolagents' in-process interpreter. Here, use 'sandbox' "
                         "(the default: an isolated WASM sandbox) or 'inprocess' (exec in this process, "
                         "for trusted code only)")
    if executor_type != "sandbox":
        raise ValueError(f"executor_type must be one of {EXECUTOR_TYPES}, not {executor_type!r}")
    factory = _sandbox_factory or _platform_sandbox_factory()
    if factory is None:
        raise ExecutorUnavailableError(
            "The WASM sandbox is not available on this platform. It runs in a browser agent worker, "
            "in Deno, or from CPython through the `deno` package. For trusted code only, pass "
            "executor_type='inprocess' (no security boundary).")
    return factory(**kwargs)


def SandboxExecutor(**kwargs: Any) -> Executor:  # noqa: N802 - named like the executors it makes
    """The WASM sandbox of this platform: the Deno sandbox from CPython and Deno, the
    opaque-origin worker in a browser. The same as `executor_type="sandbox"`.

    >>> from wasm_agent import CodeAgent, SandboxExecutor, ScriptedModel, ExecutionLimits
    >>> executor = SandboxExecutor(limits=ExecutionLimits(timeout_seconds=5))  # doctest: +SKIP
    >>> agent = CodeAgent([], ScriptedModel([]), executor=executor)             # doctest: +SKIP
    """
    return create_executor("sandbox", **kwargs)


def _platform_sandbox_factory() -> Callable[..., Executor] | None:
    try:
        from .sandbox import default_sandbox_factory
    except ImportError:
        return None
    if default_sandbox_factory() is None:
        return None
    from .pooled_executor import PooledSandboxExecutor  # sandboxes borrowed from the process's pool, run by run

    return PooledSandboxExecutor


__all__ = ["CodeOutput", "EXECUTOR_TYPES", "ExecutionLimits", "Executor", "SandboxExecutor", "create_executor",
           "register_sandbox_factory"]
