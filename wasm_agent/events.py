"""What `agent.stream()` yields, besides memory steps and model deltas.

A stream yields, in order: `PlanningStep` (when planning is due),
`ChatMessageStreamDelta` (the model's text: token by token when the model
streams and `stream_outputs=True`, else in one piece), `ToolCall` (an
action about to run), `ToolOutput`
(its result), `ActionOutput` (the step's output), `ActionStep` (the finished
step, as stored in memory) and, last, `FinalAnswerStep`.
"""

from __future__ import annotations

import warnings
from dataclasses import InitVar, dataclass, field
from typing import Any, Literal, Union

from .memory import ActionStep, FinalAnswerStep, PlanningStep, Timing, ToolCall
from .messages import ChatMessageStreamDelta, TokenUsage

RunState = Literal["success", "max_steps_error", "interrupted"]


@dataclass
class ToolOutput:
    id: str
    output: Any
    is_final_answer: bool
    observation: str
    tool_call: ToolCall


@dataclass
class ActionOutput:
    output: Any
    is_final_answer: bool


@dataclass
class RunResult:
    """What `arun(..., return_full_result=True)` returns.

    `steps` holds the memory steps as dicts when the full result is asked
    for (`agent.last_result` of other runs leaves it empty; `agent.memory`
    always has the steps). `token_usage` is None when the model reported none.
    """

    output: Any
    state: RunState
    steps: list[dict] = field(default_factory=list)
    token_usage: TokenUsage | None = field(default_factory=TokenUsage)
    timing: Timing = field(default_factory=Timing)
    save_error: str | None = None  # the run went on unsaved after a store write failed (why)
    messages: InitVar[list[dict] | None] = None  # smolagents' former name of `steps`

    def __post_init__(self, messages: list[dict] | None) -> None:
        if messages is not None:
            if self.steps:
                raise ValueError("Cannot specify both `steps` and `messages` (its deprecated name)")
            warnings.warn("RunResult(messages=...) is deprecated: use steps=...", FutureWarning, stacklevel=3)
            self.steps = messages

    def __getattribute__(self, name: str) -> Any:
        if name == "messages":
            warnings.warn("RunResult.messages is deprecated: use .steps", FutureWarning, stacklevel=2)
            return object.__getattribute__(self, "steps")
        return object.__getattribute__(self, name)


StreamEvent = Union[ChatMessageStreamDelta, ToolCall, ToolOutput, ActionOutput, ActionStep, PlanningStep,
                    FinalAnswerStep]

__all__ = ["ActionOutput", "RunResult", "RunState", "StreamEvent", "ToolCall", "ToolOutput"]
