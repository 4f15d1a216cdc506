"""What an agent prints while it runs, and the token/time totals it keeps (smolagents' `monitoring`).

`AgentLogger` prints to a console: any object with `print(*objects, **options)`,
such as a `rich.console.Console` (used when rich is installed, for colours and
panels) or, without rich, plain text on stdout. wasm_agent itself needs neither.

>>> logger = AgentLogger(LogLevel.INFO, console=PlainConsole())
>>> logger.log_rule("Step 1")
━━━ Step 1 ━━━
"""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from typing import Any

from .memory import Timing
from .messages import TokenUsage

__all__ = ["AgentLogger", "LogLevel", "Monitor", "PlainConsole", "Timing", "TokenUsage"]


class LogLevel(IntEnum):
    OFF = -1  # nothing
    ERROR = 0  # errors only
    INFO = 1  # what each step did (the default)
    DEBUG = 2  # also the messages sent to the model


class PlainConsole:
    """A console without colours: prints text to a file (stdout by default)."""

    def __init__(self, file: Any = None):
        self.file = file

    def print(self, *objects: Any, **_: Any) -> None:
        print(*objects, file=self.file or sys.stdout)


def _default_console() -> Any:
    try:
        from rich.console import Console
    except ImportError:
        return PlainConsole()
    return Console(highlight=False)


def printable(value: Any) -> str:
    """Any value as text safe to print: bytes decoded, control characters shown as escapes."""
    if value is None:
        text = ""
    elif isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = value if isinstance(value, str) else str(value)
    return "".join(c if c in "\n\t\r" or (32 <= ord(c) != 127) else f"\\x{ord(c):02x}" for c in text)


class AgentLogger:
    """Prints an agent's progress at a verbosity level (`LogLevel`)."""

    def __init__(self, level: LogLevel | int = LogLevel.INFO, console: Any = None):
        self.level = level
        self.console = console if console is not None else _default_console()

    def log(self, *args: Any, level: int | str | LogLevel = LogLevel.INFO, **kwargs: Any) -> None:
        if isinstance(level, str):
            level = LogLevel[level.upper()]
        if level <= self.level:
            self.console.print(*args, **kwargs)

    def _text(self, text: str, level: int, style: str | None = None) -> None:
        # Plain text, never markup: what tools print may contain "[/...]" that rich would parse.
        if level <= self.level:
            self.console.print(_styled(text, style))

    def log_error(self, error_message: str) -> None:
        if self.level < LogLevel.ERROR:  # nobody listens: build no text
            return
        self._text(printable(error_message), LogLevel.ERROR, "bold red")

    def log_markdown(self, content: str, title: str | None = None, level: int = LogLevel.INFO,
                     style: str | None = None) -> None:
        if level > self.level:
            return
        if title:
            self._text(f"━━━ {title} ━━━", level, "bold")
        self._text(printable(content), level)

    def log_code(self, title: str, content: str, level: int = LogLevel.INFO) -> None:
        if level > self.level:
            return
        self._text(f"─ {title} ─\n{printable(content)}", level)

    def log_rule(self, title: str, level: int = LogLevel.INFO) -> None:
        if level > self.level:
            return
        self._text(f"━━━ {title} ━━━", level, "bold")

    def log_task(self, content: Any, subtitle: Any, title: str | None = None, level: int = LogLevel.INFO) -> None:
        if level > self.level:
            return
        header = "New run" + (f" - {title}" if title else "")
        self._text(f"╭─ {printable(header)}\n{printable(content)}\n╰─ {printable(subtitle)}", level)

    def log_messages(self, messages: list, level: int = LogLevel.DEBUG) -> None:
        if level > self.level:
            return
        text = "\n".join(json.dumps(m.dict() if hasattr(m, "dict") else m, indent=4, default=repr) for m in messages)
        self._text(text, level)

    def visualize_agent_tree(self, agent: Any) -> None:
        lines: list[str] = []

        def describe(member: Any, name: str | None, depth: int) -> None:
            pad = "    " * depth
            model_id = getattr(member.model, "model_id", None)
            lines.append(f"{pad}{name + ' | ' if name else ''}{type(member).__name__} | {model_id}")
            if hasattr(member, "additional_authorized_imports"):
                lines.append(f"{pad}  Authorized imports: {member.additional_authorized_imports}")
            if name:
                lines.append(f"{pad}  Description: {member.description}")
            for tool_name, tool in member.tools.items():
                lines.append(f"{pad}  Tool {tool_name}: {tool.description}")
            for agent_name, managed in member.managed_agents.items():
                describe(managed, agent_name, depth + 1)

        describe(agent, None, 0)
        self.console.print(_styled("\n".join(lines), None))


def _styled(text: str, style: str | None) -> Any:
    """A rich `Text` when rich is there (so no markup is parsed), else the string."""
    try:
        from rich.text import Text
    except ImportError:
        return text
    return Text(text, style=style or "")


class Monitor:
    """Totals of a run: each step's duration and the tokens used so far."""

    def __init__(self, tracked_model: Any, logger: AgentLogger):
        self.tracked_model = tracked_model
        self.logger = logger
        self.reset()

    def reset(self) -> None:
        self.step_durations: list[float] = []
        self.total_input_token_count = 0
        self.total_output_token_count = 0

    def get_total_token_counts(self) -> TokenUsage:
        return TokenUsage(input_tokens=self.total_input_token_count, output_tokens=self.total_output_token_count)

    def update_metrics(self, step_log: Any) -> None:
        duration = step_log.timing.duration or 0.0
        self.step_durations.append(duration)
        usage = getattr(step_log, "token_usage", None)
        if usage is not None:
            self.total_input_token_count += usage.input_tokens
            self.total_output_token_count += usage.output_tokens
        if self.logger.level < LogLevel.INFO:
            return
        line = f"[Step {len(self.step_durations)}: Duration {duration:.2f} seconds"
        if usage is not None:
            line += (f"| Input tokens: {self.total_input_token_count:,} | "
                     f"Output tokens: {self.total_output_token_count:,}")
        self.logger._text(line + "]", LogLevel.INFO, "dim")
