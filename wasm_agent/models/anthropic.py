"""Anthropic's Messages API: the system prompt apart, content blocks, typed stream events."""

from __future__ import annotations

from typing import Any, Sequence

from ..messages import (ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, MessageRole, TokenUsage,
                        ToolCallDelta, content_text)
from .images import is_image_part, part_image_source
from ..providers import PROVIDERS
from .provider import (
    CallMemory,
    ProviderModel,
    arguments_object,
    is_tool_result,
    parse_event_json,
    system_text,
    tool_functions,
)
from .retry import ProviderFailure
from .sse import ServerSentEvent

TOOL_CHOICES = {"auto": {"type": "auto"}, "required": {"type": "any"}, "any": {"type": "any"},
                "none": {"type": "none"}}
RETRYABLE_STREAM_ERRORS = {"overloaded_error", "api_error", "rate_limit_error"}
THINKING_BLOCKS = ("thinking", "redacted_thinking")


class AnthropicModel(ProviderModel):
    """A Claude model through the Messages API (`POST /v1/messages`).

    >>> model = AnthropicModel("claude-sonnet-4-5", api_key="sk-ant-...", max_tokens=2048)
    >>> # answer = await model.generate([ChatMessage(role="user", content="Hi")])

    Requests carry `anthropic-dangerous-direct-browser-access: true`, the
    header with which Anthropic answers a browser page's CORS request (the key
    is then visible to that page: use your own key, never a shared one).
    `max_tokens` (required by the API) defaults to 4096. `tool_choice` takes
    OpenAI's words ("auto", "required", "none") or Anthropic's dict.
    """

    provider = PROVIDERS["anthropic"].label
    default_api_base = PROVIDERS["anthropic"].base_url
    api_key_env = PROVIDERS["anthropic"].key_env
    browser_hint = ("api.anthropic.com accepts browser requests that send the header "
                    "anthropic-dangerous-direct-browser-access: true (sent by default); a proxy in "
                    "between must allow that header in its CORS settings.")

    def __init__(self, model_id: str, *, api_base: str | None = None, api_key: str | None = None,
                 anthropic_version: str = "2023-06-01", max_tokens: int = 4096, **options: Any):
        super().__init__(model_id, api_base=api_base, api_key=api_key, max_tokens=max_tokens, **options)
        self.anthropic_version = anthropic_version
        # With extended thinking, the thinking blocks before a tool call must go back with it.
        self.thinking = CallMemory()

    def url(self, stream: bool) -> str:
        return f"{self.api_base}/v1/messages"

    def auth_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": self.anthropic_version, **PROVIDERS["anthropic"].browser_headers}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def payload(self, messages: list[ChatMessage], *, stop_sequences: Sequence[str] | None,
                tools: Sequence[Any] | None, stream: bool, options: dict[str, Any]) -> dict:
        body: dict[str, Any] = {"model": self.model_id, "messages": wire_messages(messages, self.thinking)}
        system = system_text(messages)
        if system:
            body["system"] = system
        stops = [stop for stop in stop_sequences or () if stop.strip()]  # the API rejects blank ones
        if stops:
            body["stop_sequences"] = stops
        if tools:
            body["tools"] = [{"name": f["name"], "description": f.get("description", ""),
                              "input_schema": f.get("parameters") or {"type": "object", "properties": {}}}
                             for f in tool_functions(tools)]
        if stream:
            body["stream"] = True
        body.update(options)
        if isinstance(body.get("tool_choice"), str):
            body["tool_choice"] = TOOL_CHOICES[body["tool_choice"]]
        return body

    def parse(self, data: dict) -> ChatMessage:
        text = "".join(block["text"] for block in data["content"] if block["type"] == "text")
        calls = [ChatMessageToolCall(id=block["id"], name=block["name"], arguments=block.get("input") or {})
                 for block in data["content"] if block["type"] == "tool_use"]
        if calls:
            self.thinking.keep(calls[0].id, [b for b in data["content"] if b["type"] in THINKING_BLOCKS])
        return ChatMessage(role=MessageRole.ASSISTANT, content=text if text or not calls else None,
                           tool_calls=calls or None, token_usage=usage_of(data.get("usage")))

    def stream_decoder(self) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(self.thinking)


class AnthropicStreamDecoder:
    """message_start, content_block_start/delta/stop per block, message_delta (usage), message_stop."""

    def __init__(self, thinking: CallMemory) -> None:
        self.done = False
        self.complete = False
        self.usage = TokenUsage()
        self.call_index: dict[int, int] = {}  # content block index -> tool call number
        self.thinking = thinking
        self.thinking_blocks: dict[int, dict] = {}  # content block index -> thinking block, as it grows

    def feed(self, event: ServerSentEvent) -> list[ChatMessageStreamDelta]:
        data = parse_event_json(event, "Anthropic")
        kind = data.get("type", event.event)
        if kind == "message_start":
            self._add_usage(data["message"].get("usage"))
        elif kind == "content_block_start":
            block = data["content_block"]
            if block["type"] in THINKING_BLOCKS:
                self.thinking_blocks[data["index"]] = dict(block)
            if block["type"] == "tool_use":
                index = self.call_index.setdefault(data["index"], len(self.call_index))
                if index == 0:
                    self.thinking.keep(block["id"], list(self.thinking_blocks.values()))
                return [ChatMessageStreamDelta(tool_calls=[ToolCallDelta(index, block["id"], block["name"])])]
            if block["type"] == "text" and block.get("text"):
                return [ChatMessageStreamDelta(content=block["text"])]
        elif kind == "content_block_delta":
            delta = data["delta"]
            if delta["type"] == "text_delta":
                return [ChatMessageStreamDelta(content=delta["text"])]
            if delta["type"] in ("thinking_delta", "signature_delta"):
                field = delta["type"].removesuffix("_delta")
                block = self.thinking_blocks[data["index"]]
                block[field] = block.get(field, "") + delta[field]
            if delta["type"] == "input_json_delta" and data["index"] in self.call_index:
                index = self.call_index[data["index"]]
                return [ChatMessageStreamDelta(tool_calls=[ToolCallDelta(index, arguments=delta["partial_json"])])]
        elif kind == "message_delta":
            self._add_usage(data.get("usage"))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            error = data.get("error") or {}
            raise ProviderFailure("stream", f"Anthropic sent an error mid-stream: {error.get('type', '')}: "
                                  f"{error.get('message', '')}",
                                  retryable=error.get("type") in RETRYABLE_STREAM_ERRORS)
        return []

    def finish(self) -> list[ChatMessageStreamDelta]:
        return [ChatMessageStreamDelta(token_usage=self.usage)]

    def _add_usage(self, usage: dict | None) -> None:
        # Counts in message_delta are running totals: the latest value of each wins.
        latest = usage_of(usage)
        if latest is None:
            return
        if latest.input_tokens:
            self.usage.input_tokens = latest.input_tokens
        if usage and "output_tokens" in usage:
            self.usage.output_tokens = latest.output_tokens


def wire_messages(messages: Sequence[ChatMessage], thinking: CallMemory) -> list[dict]:
    """Our messages as alternating user/assistant turns of content blocks (system left out)."""
    turns: list[dict] = []
    for message in messages:
        if message.role == MessageRole.SYSTEM:
            continue
        if is_tool_result(message):
            role, blocks = "user", [{"type": "tool_result", "tool_use_id": message.tool_call_id,
                                     "content": content_text(message.content)}]
        else:
            role = "assistant" if message.role == MessageRole.ASSISTANT else "user"
            blocks = content_blocks(message.content)
            if role == "assistant" and message.tool_calls:
                blocks = list(thinking.get(message.tool_calls[0].id) or ()) + blocks  # thinking comes first
                blocks += [{"type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(call)}
                           for call in message.tool_calls or ()]
        if not blocks:
            continue  # the API rejects empty text blocks
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def content_blocks(content: str | list[dict] | None) -> list[dict]:
    """Text and image blocks (an image as base64 data or a URL); empty text is left out (the API rejects it)."""
    if isinstance(content, str) or not content:
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content:
        if is_image_part(part):
            source = part_image_source(part)
            blocks.append({"type": "image", "source": {"type": "url", "url": source.url} if source.url else
                           {"type": "base64", "media_type": source.media_type, "data": source.data}})
        elif isinstance(part, dict) and part.get("text"):
            blocks.append({"type": "text", "text": part["text"]})
    return blocks


def usage_of(usage: dict | None) -> TokenUsage | None:
    if not usage:
        return None
    input_tokens = sum(int(usage.get(key) or 0) for key in
                       ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    return TokenUsage(input_tokens=input_tokens, output_tokens=int(usage.get("output_tokens") or 0))
