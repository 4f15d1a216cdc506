"""The agent's memory: small typed steps, each able to turn itself into messages.

Attribute names follow smolagents (`task`, `model_output`, `code_action`,
`observations`, `error`, `token_usage`, `timing`) so code written for it
reads our memory unchanged. `to_dict()`/`from_dict()` round-trip as JSON.
"""

from __future__ import annotations

import inspect
import time
import weakref
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable, ClassVar

from .context import messages_tokens
from .errors import AgentError
from .messages import ChatMessage, ChatMessageToolCall, MessageRole, TokenUsage

__all__ = ["ActionStep", "AgentMemory", "CallbackRegistry", "ChatMessage", "FinalAnswerStep", "MemoryStep",
           "MessageRole", "PlanningStep", "SystemPromptStep", "TaskStep", "Timing", "ToolCall"]

# What an action step's messages are made of, read in C and compared by identity (the context check
# asks every step at every step); what can change inside them is compared only where it shows.
_SHOWN_FIELDS = attrgetter("model_output", "observations", "error", "native_tool_calls", "code_action",
                           "tool_calls", "observations_images")
_SHOWN_CALL_FIELDS = attrgetter("id", "name", "arguments", "observation")

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

    dict = to_dict  # smolagents' name

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
    observation: str | None = field(default=None, compare=False)  # what the call returned, as the model sees it
    timing: Timing | None = field(default=None, compare=False)  # when it ran (the code's execution, for a code action)

    def to_dict(self) -> dict:
        return {"name": self.name, "arguments": _jsonable(self.arguments), "id": self.id,
                "observation": self.observation, "timing": self.timing.to_dict() if self.timing else None}

    def dict(self) -> dict:
        """smolagents' view: the call as a provider's tool call."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": _jsonable(self.arguments)}}

    @classmethod
    def from_dict(cls, data: dict) -> "ToolCall":
        timing = Timing.from_dict(data["timing"]) if data.get("timing") else None
        return cls(data["name"], data.get("arguments"), data["id"], data.get("observation"), timing)


class MemoryStep:
    kind: ClassVar[str] = ""

    def to_messages(self, summary_mode: bool = False) -> list[ChatMessage]:
        """The messages that show this step to a model (read them; don't change them).

        The agent asks every step for its messages at every step, so they are
        kept, keyed on the fields they come from (and on what shows from inside
        them: images, calls, an error's text): editing a step, by assignment or
        in place (in a step callback, say), gives new messages on the next call.
        """
        return list(self.measured_messages(summary_mode)[0])

    def measured_messages(self, summary_mode: bool = False) -> tuple[list[ChatMessage], int]:
        """The step's messages (shared: don't change them) and their estimated tokens, measured once
        per content of the step, so that the context check at every step scans no text again."""
        key = self._message_key()
        cached = self.__dict__.get("_summary_messages" if summary_mode else "_messages")
        if cached is not None and cached[0] == key:
            return cached[1]
        return self._measure(key, summary_mode)

    def _measure(self, key: tuple, summary_mode: bool) -> tuple[list[ChatMessage], int]:
        messages = self._build_messages(summary_mode)
        measured = messages, messages_tokens(messages)
        self.__dict__["_summary_messages" if summary_mode else "_messages"] = (key, measured)
        return measured

    def _measured_own_messages(self, summary_mode: bool = False) -> tuple[list[ChatMessage], int]:
        messages = self.to_messages(summary_mode)
        return messages, messages_tokens(messages)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.to_messages is not MemoryStep.to_messages and "measured_messages" not in vars(cls):
            cls.measured_messages = MemoryStep._measured_own_messages  # a step that builds its own messages

    def _message_key(self) -> tuple:
        return ()

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        raise NotImplementedError(f"{type(self).__name__} cannot be shown to a model")

    def to_dict(self) -> dict:
        """The step as JSON data that `AgentMemory.from_dict` reads back (saved runs)."""
        raise NotImplementedError

    def dict(self) -> dict:
        """smolagents' view of the step (its fields, JSON-compatible); `to_dict` is the saved form."""
        return {}


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
        examples = self.examples
        return (self.system_prompt, tuple((turn["role"], turn["content"]) for turn in examples) if examples else ())

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        if summary_mode:
            return []
        return [ChatMessage(MessageRole.SYSTEM, _text(self.system_prompt)),
                *(ChatMessage(turn["role"], _text(turn["content"])) for turn in self.examples or ())]

    def to_dict(self) -> dict:
        return {"type": self.kind, "system_prompt": self.system_prompt, "examples": self.examples}

    def dict(self) -> dict:
        return {"system_prompt": self.system_prompt}


@dataclass
class TaskStep(MemoryStep):
    kind: ClassVar[str] = "task"
    task: str = ""
    task_images: list | None = None

    def _message_key(self) -> tuple:
        return (self.task, tuple(self.task_images or ()))

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        images = [{"type": "image", "image": image} for image in self.task_images or ()]
        return [ChatMessage(MessageRole.USER, [*_text(f"New task:\n{self.task}"), *images])]

    def to_dict(self) -> dict:
        return {"type": self.kind, "task": self.task}

    def dict(self) -> dict:
        return {"task": self.task, "task_images": self.task_images}


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

    def measured_messages(self, summary_mode: bool = False) -> tuple[list[ChatMessage], int]:
        fields = _SHOWN_FIELDS(self)
        cached = self.__dict__.get("_summary_messages" if summary_mode else "_messages")
        if cached is not None:
            (seen, calls, images, error_text), measured = cached
            if seen == fields and (calls is None or calls == tuple(map(_SHOWN_CALL_FIELDS, fields[5]))) \
                    and (images is None or images == tuple(fields[6])) \
                    and (error_text is None or error_text == fields[2].message):
                return measured
        return self._measure(_shown_key(fields, summary_mode), summary_mode)

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        """smolagents' shape: the model's text; the calls ("Calling tools:"); images; the observation;
        the error. Native tool calls replay as a tool-call message and one tool message per result."""
        messages: list[ChatMessage] = []
        if self.native_tool_calls and self.tool_calls:
            messages.append(ChatMessage(
                MessageRole.ASSISTANT, _text(self.model_output) if self.model_output and not summary_mode else None,
                tool_calls=[ChatMessageToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in self.tool_calls]))
            messages.extend(
                ChatMessage(MessageRole.TOOL, call.observation or "(no output)", tool_call_id=call.id, name=call.name)
                for call in self.tool_calls)
            if self.error is not None and not any(c.observation for c in self.tool_calls):
                messages.append(ChatMessage(MessageRole.TOOL_RESPONSE, _text(_error_text(self.error))))
            return messages
        if self.model_output is not None and not summary_mode:
            messages.append(ChatMessage(MessageRole.ASSISTANT, _text(self.model_output.strip())))
        if self.tool_calls is not None and (self.code_action is None or summary_mode):  # else the code shows above
            calls = str([call.dict() for call in self.tool_calls])
            messages.append(ChatMessage(MessageRole.TOOL_CALL, _text(f"Calling tools:\n{calls}")))
        if self.observations_images:
            messages.append(ChatMessage(MessageRole.USER, [{"type": "image", "image": image}
                                                           for image in self.observations_images]))
        if self.observations is not None:
            messages.append(ChatMessage(MessageRole.TOOL_RESPONSE, _text(f"Observation:\n{self.observations}")))
        if self.error is not None:
            messages.append(ChatMessage(MessageRole.TOOL_RESPONSE, _text(_error_text(self.error))))
        return messages

    def dict(self) -> dict:
        return {
            "step_number": self.step_number,
            "timing": self.timing.to_dict() if isinstance(self.timing, Timing) else self.timing,
            "model_input_messages": [_jsonable(m.dict()) for m in self.model_input_messages]
            if self.model_input_messages else None,
            "tool_calls": [call.dict() for call in self.tool_calls] if self.tool_calls else [],
            "error": self.error.to_dict() if self.error else None,
            "model_output_message": _jsonable(self.model_output_message.dict()) if self.model_output_message else None,
            "model_output": self.model_output,
            "code_action": self.code_action,
            "observations": self.observations,
            "observations_images": [_jsonable(image) for image in self.observations_images]
            if self.observations_images else None,
            "action_output": _jsonable(self.action_output),
            "token_usage": self.token_usage.to_dict() if self.token_usage else None,
            "is_final_answer": self.is_final_answer,
        }

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
        return [ChatMessage(MessageRole.ASSISTANT, _text(self.plan.strip())),
                ChatMessage(MessageRole.USER, _text("Now proceed and carry out this plan."))]

    def to_dict(self) -> dict:
        return {"type": self.kind, "plan": self.plan, "timing": self.timing.to_dict(),
                "token_usage": self.token_usage.to_dict() if self.token_usage else None}

    def dict(self) -> dict:
        return {
            "model_input_messages": [_jsonable(m.dict()) for m in self.model_input_messages or ()],
            "model_output_message": _jsonable(self.model_output_message.dict()) if self.model_output_message else None,
            "plan": self.plan,
            "timing": self.timing.to_dict(),
            "token_usage": self.token_usage.to_dict() if self.token_usage else None,
        }

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
        return [ChatMessage(MessageRole.USER, _text(self.text))]

    def to_dict(self) -> dict:
        return {"type": self.kind, "text": self.text}


@dataclass
class FinalAnswerStep(MemoryStep):
    kind: ClassVar[str] = "final_answer"
    output: Any = None

    def _build_messages(self, summary_mode: bool) -> list[ChatMessage]:
        return []

    def to_dict(self) -> dict:
        return {"type": self.kind, "output": _jsonable(self.output)}

    def dict(self) -> dict:
        return {"output": _jsonable(self.output)}


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

    def return_full_code(self) -> str:
        """The code of every code action so far, as one script."""
        return "\n\n".join(step.code_action for step in self.action_steps if step.code_action is not None)

    def replay(self, logger: Any, detailed: bool = False) -> None:
        """Print the steps again with an `AgentLogger` (with `detailed`, also each step's model input)."""
        level = 0  # shown at every verbosity but OFF
        logger.log_markdown(title="System prompt", content=self.system_prompt.system_prompt, level=level)
        for step in self.steps:
            if isinstance(step, TaskStep):
                logger.log_task(step.task, "", level=level)
            elif isinstance(step, (ActionStep, PlanningStep)):
                logger.log_rule(f"Step {step.step_number}" if isinstance(step, ActionStep) else "Planning step",
                                level=level)
                if detailed and step.model_input_messages is not None:
                    logger.log_messages(step.model_input_messages, level=level)
                text = step.model_output if isinstance(step, ActionStep) else step.plan
                if text is not None:
                    logger.log_markdown(title="Agent output:", content=text, level=level)


class CallbackRegistry:
    """Step callbacks by step class: `register(ActionStep, callback)`; a callback that takes
    more than the step also gets the keyword arguments given to `callback` (the agent)."""

    def __init__(self) -> None:
        self._callbacks: dict[type, list[Callable]] = {}
        self._takes_kwargs: dict[Any, bool] = {}  # per callback, read once (signatures are slow to read)

    def register(self, step_cls: type, callback: Callable) -> None:
        self._callbacks.setdefault(step_cls, []).append(callback)

    def unregister(self, step_cls: type, callback: Callable) -> None:
        self._callbacks.get(step_cls, []).remove(callback)

    def callback(self, memory_step: MemoryStep, **kwargs: Any) -> list[Any]:
        """Call the callbacks of the step's class and its bases; returns what they returned (awaitables too)."""
        results = []
        for cls in type(memory_step).__mro__:
            for callback in self._callbacks.get(cls, ()):
                takes_kwargs = self._takes_kwargs.get(callback)
                if takes_kwargs is None:
                    takes_kwargs = self._takes_kwargs[callback] = _takes_more_than_step(callback)
                results.append(callback(memory_step, **kwargs) if takes_kwargs else callback(memory_step))
        return results


def _takes_more_than_step(callback: Callable) -> bool:
    function = getattr(callback, "__func__", callback)
    if not inspect.isfunction(function):  # a partial, a callable object…: read each time it is registered
        return _reads_more_than_step(callback)
    kinds = _PARAMETER_KINDS.get(function)
    if kinds is None:
        try:
            kinds = _PARAMETER_KINDS[function] = tuple(p.kind for p in inspect.signature(function).parameters.values())
        except (TypeError, ValueError):
            return False
    if function is not callback and kinds and kinds[0] is not inspect.Parameter.VAR_POSITIONAL:
        kinds = kinds[1:]  # a bound method: its first parameter is given
    return len(kinds) > 1 or inspect.Parameter.VAR_KEYWORD in kinds


def _reads_more_than_step(callback: Callable) -> bool:
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return False
    return len(parameters) > 1 or any(p.kind is p.VAR_KEYWORD for p in parameters)


# Each function's parameter kinds, read once per process: agents made per request register the same callbacks.
_PARAMETER_KINDS: "weakref.WeakKeyDictionary[Callable, tuple]" = weakref.WeakKeyDictionary()


def _jsonable(value: Any) -> Any:
    """The value as JSON data: containers kept, anything else JSON cannot hold as its repr (marked)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return {"__repr__": repr(value)}


def _text(text: str) -> list[dict]:
    """Message content with one text part."""
    return [{"type": "text", "text": text}]


def _error_text(error: AgentError) -> str:
    return f"Error:\n{error.message}\n{RETRY_HINT}\n"


def _shown_key(fields: tuple, summary_mode: bool) -> tuple:
    """An action step's cache key: its shown fields, then what shows from inside them (an edit in place
    changes the messages too): the calls where they show, the images, the error's text (None if absent)."""
    _, _, error, native_tool_calls, code_action, calls, images = fields
    shows_calls = calls is not None and (native_tool_calls or code_action is None or summary_mode)
    return (fields, tuple(map(_SHOWN_CALL_FIELDS, calls)) if shows_calls else None,
            None if images is None else tuple(images), None if error is None else error.message)
