"""Chat messages exchanged with models: typed dataclasses, plain data on the wire."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class MessageRole(str, Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    # smolagents' names for the same roles, kept so its code reads unchanged.
    TOOL_CALL = "assistant"
    TOOL_RESPONSE = "tool"

    def __str__(self) -> str:
        return self.value


@dataclass
class TokenUsage:
    """Tokens a model call used (or the sum over several calls)."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "TokenUsage | None") -> "TokenUsage":
        if other is None:
            return TokenUsage(self.input_tokens, self.output_tokens)
        return TokenUsage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    def to_dict(self) -> dict:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "total_tokens": self.total_tokens}

    @classmethod
    def from_dict(cls, data: dict | None) -> "TokenUsage | None":
        if data is None:
            return None
        return cls(int(data.get("input_tokens", 0)), int(data.get("output_tokens", 0)))


@dataclass
class ChatMessageToolCallFunction:
    """smolagents' shape of a call's function part (`call.function.name`)."""

    name: str
    arguments: Any


@dataclass
class ChatMessageToolCall:
    """One native tool call requested by a model. `arguments` is a dict when parsed."""

    id: str
    name: str
    arguments: Any = field(default_factory=dict)
    type: str = "function"

    @property
    def function(self) -> ChatMessageToolCallFunction:
        return ChatMessageToolCallFunction(self.name, self.arguments)

    @classmethod
    def coerce(cls, value: "ChatMessageToolCall | dict") -> "ChatMessageToolCall":
        """Accept our dataclass or an OpenAI-style dict ({id, function: {name, arguments}})."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"a tool call must be a ChatMessageToolCall or a dict, not {type(value).__name__}")
        function = value.get("function") or {}
        name = value.get("name") or function.get("name")
        arguments = value.get("arguments", function.get("arguments", {}))
        if not name:
            raise ValueError(f"tool call without a name: {value!r}")
        return cls(id=str(value.get("id") or f"call_{name}"), name=name, arguments=arguments)

    def parsed_arguments(self) -> Any:
        """Arguments as data: JSON strings (as most providers send them) are decoded."""
        if isinstance(self.arguments, str):
            text = self.arguments.strip()
            if not text:
                return {}
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return self.arguments
        return self.arguments

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type,
                "function": {"name": self.name, "arguments": self.arguments}}


@dataclass
class ChatMessage:
    """A message to or from a model.

    >>> ChatMessage(role=MessageRole.USER, content="What is 2 + 2?").role
    <MessageRole.USER: 'user'>
    """

    role: MessageRole | str
    content: str | None = None
    tool_calls: list[ChatMessageToolCall] | None = None
    token_usage: TokenUsage | None = None
    raw: Any = None
    tool_call_id: str | None = None  # on role "tool": which call this answers
    name: str | None = None

    def __post_init__(self) -> None:
        if type(self.role) is not MessageRole:  # hot path: the loop builds many messages per step
            self.role = MessageRole(self.role)
        if type(self.content) is list:  # smolagents-style [{"type": "text", "text": ...}]
            self.content = "".join(part.get("text", "") for part in self.content if isinstance(part, dict))
        if self.tool_calls is not None:
            self.tool_calls = [ChatMessageToolCall.coerce(call) for call in self.tool_calls]

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"role": self.role.value, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.token_usage is not None:
            data["token_usage"] = self.token_usage.to_dict()
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ChatMessage":
        return cls(
            role=data["role"],
            content=data.get("content"),
            tool_calls=data.get("tool_calls"),
            token_usage=TokenUsage.from_dict(data.get("token_usage")),
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
        )


@dataclass
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments with the same index join up."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class ChatMessageStreamDelta:
    """A piece of a streamed model answer."""

    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    token_usage: TokenUsage | None = None


def agglomerate_stream_deltas(deltas: list[ChatMessageStreamDelta]) -> ChatMessage:
    """Join streamed deltas into the message they spell out."""
    text: list[str] = []
    calls: dict[int, ToolCallDelta] = {}
    usage: TokenUsage | None = None
    for delta in deltas:
        if delta.content:
            text.append(delta.content)
        for fragment in delta.tool_calls or ():
            call = calls.setdefault(fragment.index, ToolCallDelta(index=fragment.index))
            call.id = fragment.id or call.id
            call.name = call.name or fragment.name  # providers send the name once, in the first fragment
            call.arguments += fragment.arguments or ""
        if delta.token_usage is not None:
            usage = delta.token_usage if usage is None else usage + delta.token_usage
    tool_calls = [
        ChatMessageToolCall(id=call.id or f"call_{index}", name=call.name or "", arguments=call.arguments)
        for index, call in sorted(calls.items())
    ]
    return ChatMessage(
        role=MessageRole.ASSISTANT,
        content="".join(text) if text or not tool_calls else None,
        tool_calls=tool_calls or None,
        token_usage=usage,
    )
