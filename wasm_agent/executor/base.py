"""The executor contract: where a CodeAgent's code runs (DESIGN §4)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # the sandbox side loads this module without the tools layer
    from ..tools.base import Tool


@dataclass
class CodeOutput:
    """What one run of generated code gave.

    `output` is the final answer when `is_final_answer`, else the value of the
    code's last expression. `error` is a message for the model (the exception,
    a limit that was hit, state that was lost), or None when the code ran.
    """

    output: Any = None
    logs: str = ""
    is_final_answer: bool = False
    error: str | None = None


@dataclass
class ExecutionLimits:
    """Limits per call of `run`. Past one, the step fails with a clear message."""

    timeout_seconds: float | None = 30.0
    max_output_chars: int = 20_000
    max_memory_mb: int | None = None


class Executor(ABC):
    """Runs generated code with state kept between calls; tools are callable from it."""

    limits: ExecutionLimits

    @abstractmethod
    async def send_tools(self, tools: "Mapping[str, Tool]") -> None:
        """Make these tools callable by name from the code (replaces earlier ones)."""

    @abstractmethod
    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        """Define these variables in the code's namespace."""

    @abstractmethod
    async def run(self, code: str) -> CodeOutput:
        """Run `code`; never raises for errors in the code itself."""

    @abstractmethod
    async def reset(self) -> None:
        """Forget all variables and imports (tools stay)."""

    @abstractmethod
    async def interrupt(self) -> None:
        """Stop the code that is running now, if any."""

    def request_interrupt(self) -> None:
        """Thread-safe and synchronous: ask running code to stop as soon as possible.

        The agent calls it from `agent.interrupt()`, which may run on another
        thread while this executor's code blocks the event loop. The default
        does nothing; the agent also awaits `interrupt()` on its loop.
        """

    async def start(self) -> None:
        """Get ready now (boot a sandbox), so that the first run does not wait for it."""

    async def release(self) -> None:
        """The agent's run is over. A pooled executor gives its sandbox back; others keep theirs."""

    async def close(self) -> None:
        """Release what the executor holds; it cannot be used afterwards."""

    async def __aenter__(self) -> "Executor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class OutputBuffer:
    """Collects printed text up to a cap; past it, counts what was dropped."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def write(self, text: str) -> int:
        room = self.max_chars - self.size
        if room > 0:
            kept = text[:room]
            self.parts.append(kept)
            self.size += len(kept)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += (f"\n[output truncated: {self.dropped} more characters were printed; "
                     f"the limit is {self.max_chars}. Print less, e.g. a summary or a slice.]")
        return text
