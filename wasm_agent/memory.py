"""The agent's memory: small typed steps, each able to turn itself into messages.

Attribute names follow smolagents (`task`, `model_output`, `code_action`,
`observations`, `error`, `token_usage`, `timing`) so code written for it
reads our memory unchanged. `to_dict()`/`from_dict()` round-trip as JSON.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import AgentError
from .messages import ChatMessage, ChatMessageToolCall, MessageRole, TokenUsage

RETRY_HINT = ("Now let's retry: take care not to repeat previous errors! "
              "If you have retried several times, try a completely different approach.")


@dataclass
class Timing:
    start_time: float = field(default_factory=time.time)
    end_time: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict:
        return {"start_time": self.start_time, "end_time": self.end_time, "duration": self.duration}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Timing":
        data = data or {}
        return cls(data.get("start_time", 0.0), data.get("end_time"))


@dataclass
class ToolCall:
    """A call made by a step: a native tool call, or `python_interpreter` for a code action."""

    name: str
    arguments: Any
    id: str
    observation: str | None = None  # what the call returned, as the model sees it
    timing: Timing | None = None  # when it ran (the code's execution, for a code action)

    def to_dict(self) -> dict:
        return {"name": self.name, "arguments": _jsonable(self.arguments), "id": self.id,
                "observation": self.observation, "timing": self.timing.to_dict() if self.timing else None}

    @classmethod
    def from_dict(cls, data: dict) -> "ToolCall":
        timing = Timing.from_dict(data["timing"]) if data.get("timing") else None
        return cls(data["name"], data.get("arguments"), data["id"], data.get("observation"), timing)


class MemoryStep:
    kind: ClassVar[str] = ""

    def to_messages(self, summary_mode: bool = False) -> list[ChatMessage]:
        """The messages that show this step to a model (read them; don't change them).

        The agent asks every step for its messages at every step, so they are
        kept, keyed on the fields they come from: editing a step (in a step
        callback, say) gives new messages on the next call.
        """
        key = (summary_mode, self._message_key())
        cached = self.__dict__.get("_messages")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_messages"] = (key, self._build_messages(summary_mode))
        return list(cached[1])

    def _message_key(self) -> tuple:
        return ()

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        return []

    def to_dict(self) -> dict:
        raise NotImplementedError

    def dict(self) -> dict:  # smolagents' name
        return self.to_dict()


@dataclass
class SystemPromptStep(MemoryStep):
    """The system prompt, and the few-shot example turns that follow it (if any).

    Small models follow examples given as earlier chat turns much better than
    examples inside the system prompt.
    """

    kind: ClassVar[str] = "system_prompt"
    system_prompt: str = ""
    examples: list[dict] | None = None  # [{"role": "user"|"assistant", "content": ...}, ...]

    def _message_key(self) -> tuple:
        return (self.system_prompt, len(self.examples or ()))

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        if summary_mode:
            return []
        return [ChatMessage(MessageRole.SYSTEM, self.system_prompt),
                *(ChatMessage(turn["role"], turn["content"]) for turn in self.examples or ())]

    def to_dict(self) -> dict:
        return {"type": self.kind, "system_prompt": self.system_prompt, "examples": self.examples}


@dataclass
class TaskStep(MemoryStep):
    kind: ClassVar[str] = "task"
    task: str = ""
    task_images: list | None = None

    def _message_key(self) -> tuple:
        return (self.task,)

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        return [ChatMessage(MessageRole.USER, f"New task:\n{self.task}")]

    def to_dict(self) -> dict:
        return {"type": self.kind, "task": self.task}


@dataclass
class ActionStep(MemoryStep):
    kind: ClassVar[str] = "action"
    step_number: int = 0
    timing: Timing = field(default_factory=Timing)
    model_input_messages: list[ChatMessage] | None = None  # not serialised: derivable, and large
    model_timing: Timing | None = None  # when the model call ran
    tool_calls: list[ToolCall] | None = None
    native_tool_calls: bool = False  # True for ToolCallingAgent: replayed as tool-call messages
    error: AgentError | None = None
    model_output_message: ChatMessage | None = None
    model_output: str | None = None
    code_action: str | None = None
    code_tool_calls: list[dict] | None = None  # tools the code called, with outputs (saved runs; for replay)
    observations: str | None = None
    observations_images: list | None = None
    action_output: Any = None
    token_usage: TokenUsage | None = None
    is_final_answer: bool = False

    def _message_key(self) -> tuple:
        calls = tuple((c.id, c.name, id(c.arguments), c.observation) for c in self.tool_calls) \
            if self.native_tool_calls and self.tool_calls else None
        return (self.model_output, self.observations, self.error, self.native_tool_calls, calls)

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        messages: list[ChatMessage] = []
        if self.native_tool_calls and self.tool_calls:
            messages.append(ChatMessage(
                MessageRole.ASSISTANT, (self.model_output or None) if not summary_mode else None,
                tool_calls=[ChatMessageToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in self.tool_calls]))
            messages.extend(
                ChatMessage(MessageRole.TOOL, call.observation or "(no output)", tool_call_id=call.id, name=call.name)
                for call in self.tool_calls)
            if self.error is not None and not any(c.observation for c in self.tool_calls):
                messages.append(ChatMessage(MessageRole.USER, f"Error:\n{self.error.message}\n{RETRY_HINT}"))
            return messages
        if self.model_output and not summary_mode:
            messages.append(ChatMessage(MessageRole.ASSISTANT, self.model_output.strip()))
        feedback = []
        if self.observations is not None:
            feedback.append(f"Observation:\n{self.observations}")
        if self.error is not None:
            feedback.append(f"Error:\n{self.error.message}\n{RETRY_HINT}")
        if feedback:
            messages.append(ChatMessage(MessageRole.USER, "\n".join(feedback)))
        return messages

    def to_dict(self) -> dict:
        return {
            "type": self.kind,
            "step_number": self.step_number,
            "timing": self.timing.to_dict(),
            "model_timing": self.model_timing.to_dict() if self.model_timing else None,
            "tool_calls": [c.to_dict() for c in self.tool_calls] if self.tool_calls else None,
            "native_tool_calls": self.native_tool_calls,
            "error": self.error.to_dict() if self.error else None,
            "model_output_message": self.model_output_message.to_dict() if self.model_output_message else None,
            "model_output": self.model_output,
            "code_action": self.code_action,
            "code_tool_calls": self.code_tool_calls,
            "observations": self.observations,
            "action_output": _jsonable(self.action_output),
            "token_usage": self.token_usage.to_dict() if self.token_usage else None,
            "is_final_answer": self.is_final_answer,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ActionStep":
        return cls(
            step_number=data.get("step_number", 0),
            timing=Timing.from_dict(data.get("timing")),
            model_timing=Timing.from_dict(data["model_timing"]) if data.get("model_timing") else None,
            tool_calls=[ToolCall.from_dict(c) for c in data["tool_calls"]] if data.get("tool_calls") else None,
            native_tool_calls=data.get("native_tool_calls", False),
            error=AgentError.from_dict(data["error"]) if data.get("error") else None,
            model_output_message=ChatMessage.from_dict(data["model_output_message"])
            if data.get("model_output_message") else None,
            model_output=data.get("model_output"),
            code_action=data.get("code_action"),
            code_tool_calls=data.get("code_tool_calls"),
            observations=data.get("observations"),
            action_output=data.get("action_output"),
            token_usage=TokenUsage.from_dict(data.get("token_usage")),
            is_final_answer=data.get("is_final_answer", False),
        )


@dataclass
class PlanningStep(MemoryStep):
    kind: ClassVar[str] = "planning"
    model_input_messages: list[ChatMessage] | None = None
    model_output_message: ChatMessage | None = None
    plan: str = ""
    timing: Timing = field(default_factory=Timing)
    token_usage: TokenUsage | None = None

    def _message_key(self) -> tuple:
        return (self.plan,)

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        if summary_mode:
            return []
        return [ChatMessage(MessageRole.ASSISTANT, self.plan.strip()),
                ChatMessage(MessageRole.USER, "Now proceed and carry out this plan.")]

    def to_dict(self) -> dict:
        return {"type": self.kind, "plan": self.plan, "timing": self.timing.to_dict(),
                "token_usage": self.token_usage.to_dict() if self.token_usage else None}

    @classmethod
    def from_dict(cls, data: dict) -> "PlanningStep":
        return cls(plan=data.get("plan", ""), timing=Timing.from_dict(data.get("timing")),
                   token_usage=TokenUsage.from_dict(data.get("token_usage")))


@dataclass
class NoteStep(MemoryStep):
    """Something the model must know that no step says (e.g. state lost on resume)."""

    kind: ClassVar[str] = "note"
    text: str = ""

    def _message_key(self) -> tuple:
        return (self.text,)

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        return [ChatMessage(MessageRole.USER, self.text)]

    def to_dict(self) -> dict:
        return {"type": self.kind, "text": self.text}


@dataclass
class FinalAnswerStep(MemoryStep):
    kind: ClassVar[str] = "final_answer"
    output: Any = None

    def to_dict(self) -> dict:
        return {"type": self.kind, "output": _jsonable(self.output)}


_STEP_READERS = {
    "task": lambda d: TaskStep(task=d.get("task", "")),
    "action": ActionStep.from_dict,
    "planning": PlanningStep.from_dict,
    "final_answer": lambda d: FinalAnswerStep(output=d.get("output")),
    "note": lambda d: NoteStep(text=d.get("text", "")),
}


class AgentMemory:
    """The system prompt and the steps of the runs so far.

    >>> memory = AgentMemory("You are helpful.")
    >>> memory.steps.append(TaskStep(task="Say hi"))
    >>> AgentMemory.from_dict(memory.to_dict()).steps[0].task
    'Say hi'
    """

    def __init__(self, system_prompt: str = "", examples: list[dict] | None = None):
        self.system_prompt = SystemPromptStep(system_prompt=system_prompt, examples=examples)
        self.steps: list[MemoryStep] = []

    def reset(self) -> None:
        self.steps = []

    def to_messages(self, summary_mode: bool = False) -> list[ChatMessage]:
        messages = self.system_prompt.to_messages(summary_mode)
        for step in self.steps:
            messages.extend(step.to_messages(summary_mode))
        return messages

    def get_full_steps(self) -> list[dict]:
        return [step.to_dict() for step in self.steps]

    def get_succinct_steps(self) -> list[dict]:
        return [{k: v for k, v in step.to_dict().items() if k != "model_output_message"} for step in self.steps]

    def to_dict(self) -> dict:
        return {"system_prompt": self.system_prompt.system_prompt, "examples": self.system_prompt.examples,
                "steps": self.get_full_steps()}

    @classmethod
    def from_dict(cls, data: dict) -> "AgentMemory":
        memory = cls(data.get("system_prompt", ""), data.get("examples"))
        for step in data.get("steps", []):
            reader = _STEP_READERS.get(step.get("type"))
            if reader is None:
                raise ValueError(f"unknown memory step type {step.get('type')!r}")
            memory.steps.append(reader(step))
        return memory

    @property
    def action_steps(self) -> list[ActionStep]:
        return [step for step in self.steps if isinstance(step, ActionStep)]


def _jsonable(value: Any) -> Any:
    """The value if it survives JSON, else its repr (marked as such)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return {"__repr__": repr(value)}
