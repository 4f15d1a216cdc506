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
    TOOL = "tool"  # the answer to a native tool call (with `tool_call_id`)
    # smolagents' roles for the text of a step's calls and of their observations: sent to
    # providers as assistant and user text (`get_clean_message_list`).
    TOOL_CALL = "tool-call"
    TOOL_RESPONSE = "tool-response"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def roles(cls) -> list[str]:
        return [role.value for role in cls]


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
    """The function part of a tool call (`call.function.name`, `call.function.arguments`)."""

    name: str
    arguments: Any = None
    description: str | None = None


@dataclass(init=False)
class ChatMessageToolCall:
    """One native tool call requested by a model. `arguments` is a dict when parsed.

    Made either way: `ChatMessageToolCall(id="1", name="add", arguments={...})` or, as in
    smolagents, `ChatMessageToolCall(function=ChatMessageToolCallFunction(name, arguments), id="1")`.
    """

    function: ChatMessageToolCallFunction
    id: str
    type: str

    def __init__(self, function: ChatMessageToolCallFunction | dict | None = None, id: str | None = None,
                 type: str = "function", *, name: str | None = None, arguments: Any = None):
        if function is None:
            function = ChatMessageToolCallFunction(name or "", {} if arguments is None else arguments)
        elif isinstance(function, dict):
            function = ChatMessageToolCallFunction(**function)
        self.function, self.id, self.type = function, str(id) if id is not None else f"call_{function.name}", type

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def arguments(self) -> Any:
        return self.function.arguments

    @arguments.setter
    def arguments(self, value: Any) -> None:
        self.function.arguments = value

    @classmethod
    def coerce(cls, value: Any) -> "ChatMessageToolCall":
        """Accept our dataclass, an OpenAI-style dict ({id, function: {name, arguments}}) or an SDK object."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            dump = getattr(value, "model_dump", None) or getattr(value, "dict", None)
            if dump is None:
                raise TypeError(f"a tool call must be a ChatMessageToolCall or a dict, not {type(value).__name__}")
            value = dump()
        function = value.get("function") or {}
        name = value.get("name") or function.get("name")
        arguments = value.get("arguments", function.get("arguments", {}))
        if not name:
            raise ValueError(f"tool call without a name: {value!r}")
        return cls(id=str(value.get("id") or f"call_{name}"), name=name, arguments=arguments,
                   type=value.get("type") or "function")

    def parsed_arguments(self) -> Any:
        """Arguments as data: JSON strings (as most providers send them) are decoded."""
        return parse_json_if_needed(self.arguments) if isinstance(self.arguments, str) else self.arguments

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type,
                "function": {"name": self.name, "arguments": self.arguments}}

    dict = to_dict  # smolagents' name


def parse_json_if_needed(arguments: Any) -> Any:
    """Decode tool-call arguments that arrive as a JSON string; anything else is returned as is.

    >>> parse_json_if_needed('{"a": 1}'), parse_json_if_needed("plain text")
    ({'a': 1}, 'plain text')
    """
    if not isinstance(arguments, str):
        return arguments
    text = arguments.strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return arguments


def content_text(content: Any) -> str:
    """The text of a message content: a string, or the text parts of a list of parts joined.

    >>> content_text([{"type": "text", "text": "a"}, {"type": "image", "image": b""}, {"type": "text", "text": "b"}])
    'a\nb'
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


@dataclass
class ChatMessage:
    """A message to or from a model.

    >>> ChatMessage(role=MessageRole.USER, content="What is 2 + 2?").role
    <MessageRole.USER: 'user'>
    """

    role: MessageRole | str
    content: str | list[dict] | None = None  # text, or parts: {"type": "text"|"image", ...}
    tool_calls: list[ChatMessageToolCall] | None = None
    token_usage: TokenUsage | None = None
    raw: Any = None
    tool_call_id: str | None = None  # on role "tool": which call this answers
    name: str | None = None

    def __post_init__(self) -> None:
        if type(self.role) is not MessageRole:  # hot path: the loop builds many messages per step
            self.role = MessageRole(self.role)
        if self.tool_calls is not None:
            self.tool_calls = [ChatMessageToolCall.coerce(call) for call in self.tool_calls]

    @property
    def text(self) -> str:
        """The content as text (the text parts of a list of parts, joined)."""
        return content_text(self.content)

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"role": self.role.value, "content": _content_data(self.content)}
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.token_usage is not None:
            data["token_usage"] = self.token_usage.to_dict()
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        return data

    def dict(self) -> dict:
        """smolagents' view: role, content, tool_calls, raw, token_usage (and our tool fields when set)."""
        data: dict[str, Any] = {
            "role": self.role, "content": self.content,
            "tool_calls": [call.to_dict() for call in self.tool_calls] if self.tool_calls else None,
            "raw": self.raw, "token_usage": self.token_usage.to_dict() if self.token_usage else None}
        if self.tool_call_id is not None:
            data["tool_call_id"], data["name"] = self.tool_call_id, self.name
        return data

    def model_dump_json(self) -> str:
        data = self.dict()
        data.pop("raw")
        return json.dumps(data, default=repr)

    def render_as_markdown(self) -> str:
        rendered = content_text(self.content)
        calls = [json.dumps({"tool": c.name, "arguments": c.arguments}) for c in self.tool_calls or ()]
        return rendered + "\n".join(calls)

    @classmethod
    def from_dict(cls, data: dict, raw: Any = None, token_usage: TokenUsage | None = None) -> "ChatMessage":
        return cls(
            role=data["role"],
            content=data.get("content"),
            tool_calls=data.get("tool_calls"),
            token_usage=token_usage or TokenUsage.from_dict(data.get("token_usage")),
            raw=raw if raw is not None else data.get("raw"),
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
        )


def _content_data(content: Any) -> Any:
    """Content as JSON data: image parts keep their type, their pixels go as a note."""
    if not isinstance(content, list):
        return content
    return [part if part.get("type") == "text" else {"type": part.get("type"), "note": "not saved"}
            for part in content if isinstance(part, dict)]


def get_clean_message_list(messages: list[ChatMessage | dict],
                           role_conversions: dict[MessageRole | str, MessageRole | str] | None = None,
                           flatten_messages_as_text: bool = True) -> list[ChatMessage]:
    """Messages as a provider takes them: smolagents' step roles become assistant/user text, parts
    become text (or stay parts, images included, with `flatten_messages_as_text=False`), and
    consecutive messages of the same role are joined.

    >>> clean = get_clean_message_list([ChatMessage("user", [{"type": "text", "text": "a"}]),
    ...                                 ChatMessage("tool-response", "Observation: 2")])
    >>> [(m.role.value, m.content) for m in clean]
    [('user', 'a\\nObservation: 2')]
    """
    conversions = {MessageRole(k): MessageRole(v) for k, v in (role_conversions or {}).items()}
    conversions = {MessageRole.TOOL_CALL: MessageRole.ASSISTANT, MessageRole.TOOL_RESPONSE: MessageRole.USER,
                   **conversions}
    clean: list[ChatMessage] = []
    for message in messages:
        if isinstance(message, dict):
            message = ChatMessage.from_dict(message)
        role = conversions.get(message.role, message.role)
        content = message.content
        if isinstance(content, list) and (flatten_messages_as_text or
                                          all(p.get("type") == "text" for p in content if isinstance(p, dict))):
            content = content_text(content)
        last = clean[-1] if clean else None
        if (last is not None and last.role is role and role is not MessageRole.TOOL and not message.tool_calls
                and not last.tool_calls and isinstance(content, str) and isinstance(last.content, str)):
            last.content = f"{last.content}\n{content}" if last.content else content
            continue
        clean.append(ChatMessage(role, content, message.tool_calls, message.token_usage, message.raw,
                                 message.tool_call_id, message.name))
    return clean


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
