"""OpenAI chat completions, spoken by OpenAI and by most other servers.

The same wire format reaches OpenAI, the Hugging Face router, OpenRouter,
Groq, Together, Ollama (`/v1`), llama.cpp's server and vLLM: only `api_base`
and the key change.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..messages import (ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, MessageRole, TokenUsage,
                        ToolCallDelta, content_text)
from .images import is_image_part, part_image_source
from ..providers import PROVIDERS
from .provider import ProviderModel, arguments_json, is_tool_result, parse_event_json, tool_functions
from .retry import ProviderFailure
from .sse import ServerSentEvent


class OpenAIModel(ProviderModel):
    """A model behind an OpenAI-compatible `/chat/completions` endpoint.

    >>> model = OpenAIModel("gpt-4o-mini", api_key="sk-...", temperature=0.2)
    >>> local = OpenAIModel("qwen2.5-coder", api_base="http://127.0.0.1:11434/v1")  # Ollama
    >>> # answer = await model.generate([ChatMessage(role="user", content="Hi")])

    `organization` and `project` set OpenAI's headers. `stream_usage=False`
    leaves out `stream_options` for old servers that reject it. Other keywords
    (`temperature`, `max_tokens`, `tool_choice`, `seed`, ...) go into the request body.
    """

    provider = PROVIDERS["openai"].label
    default_api_base = PROVIDERS["openai"].base_url
    api_key_env = PROVIDERS["openai"].key_env
    browser_hint = ("api.openai.com accepts browser requests; another server must answer CORS preflights "
                    "(Ollama: set OLLAMA_ORIGINS to this page's origin; llama.cpp server and vLLM: "
                    "allow the origin in their CORS settings).")

    def __init__(self, model_id: str, *, api_base: str | None = None, api_key: str | None = None,
                 organization: str | None = None, project: str | None = None, stream_usage: bool = True,
                 **options: Any):
        super().__init__(model_id, api_base=api_base, api_key=api_key, **options)
        self.organization = organization
        self.project = project
        self.stream_usage = stream_usage

    def url(self, stream: bool) -> str:
        return f"{self.api_base}/chat/completions"

    def auth_headers(self) -> dict[str, str]:
        headers = {}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        if self.organization:
            headers["openai-organization"] = self.organization
        if self.project:
            headers["openai-project"] = self.project
        return headers

    def payload(self, messages: list[ChatMessage], *, stop_sequences: Sequence[str] | None,
                tools: Sequence[Any] | None, stream: bool, options: dict[str, Any]) -> dict:
        body: dict[str, Any] = {"model": self.model_id, "messages": [wire_message(m) for m in messages]}
        if stop_sequences:
            body["stop"] = list(stop_sequences)
        if tools:
            body["tools"] = [{"type": "function", "function": function} for function in tool_functions(tools)]
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body["stream_options"] = {"include_usage": True}
        body.update(options)
        return body

    def parse(self, data: dict) -> ChatMessage:
        message = data["choices"][0]["message"]
        calls = [ChatMessageToolCall(id=call.get("id") or f"call_{i}", name=call["function"]["name"],
                                     arguments=call["function"].get("arguments") or "")
                 for i, call in enumerate(message.get("tool_calls") or ())]
        return ChatMessage(role=MessageRole.ASSISTANT, content=message.get("content"),
                           tool_calls=calls or None, token_usage=usage_of(data.get("usage")))

    def stream_decoder(self) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder()


class OpenAIStreamDecoder:
    """Chunks of `choices[0].delta`; usage arrives in a last chunk with no choices; then `[DONE]`."""

    def __init__(self) -> None:
        self.done = False
        self.complete = False  # a finish_reason arrived: a server that omits [DONE] may stop here
        self.usage: TokenUsage | None = None

    def feed(self, event: ServerSentEvent) -> list[ChatMessageStreamDelta]:
        if event.data.strip() == "[DONE]":
            self.done = True
            return []
        data = parse_event_json(event, "OpenAI-compatible")
        if not isinstance(data, dict):
            raise ProviderFailure("unreadable", f"unexpected stream event {event.data[:200]!r}")
        if data.get("error"):
            error = data["error"]
            raise ProviderFailure("stream", f"the server sent an error mid-stream: "
                                  f"{error.get('message', error) if isinstance(error, dict) else error}",
                                  retryable=True)
        if data.get("usage"):  # some servers repeat a running total in every chunk: keep the last
            self.usage = usage_of(data["usage"])
        deltas = []
        for choice in data.get("choices") or ():
            if choice.get("finish_reason"):
                self.complete = True
            delta = choice.get("delta") or {}
            calls = [ToolCallDelta(index=call.get("index", i), id=call.get("id"),
                                   name=(call.get("function") or {}).get("name"),
                                   arguments=(call.get("function") or {}).get("arguments") or "")
                     for i, call in enumerate(delta.get("tool_calls") or ())]
            if delta.get("content") or calls:
                deltas.append(ChatMessageStreamDelta(content=delta.get("content"), tool_calls=calls or None))
        return deltas

    def finish(self) -> list[ChatMessageStreamDelta]:
        return [ChatMessageStreamDelta(token_usage=self.usage)] if self.usage else []


def wire_message(message: ChatMessage) -> dict:
    """One of our messages as a chat-completions message."""
    if is_tool_result(message):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": content_text(message.content)}
    role = "user" if message.role == MessageRole.TOOL else message.role.value
    data: dict[str, Any] = {"role": role, "content": wire_content(message.content)}
    if message.tool_calls and role == "assistant":
        data["tool_calls"] = [{"id": call.id, "type": "function",
                               "function": {"name": call.name, "arguments": arguments_json(call)}}
                              for call in message.tool_calls]
    elif data["content"] is None:
        data["content"] = ""
    return data


def wire_content(content: str | list[dict] | None) -> str | list[dict] | None:
    """Text as it is; parts as chat-completions parts (an image as a data: or http URL)."""
    if not isinstance(content, list):
        return content
    return [{"type": "image_url", "image_url": {"url": part_image_source(part).data_url}} if is_image_part(part)
            else {"type": "text", "text": part.get("text", "")} for part in content if isinstance(part, dict)]


def usage_of(usage: dict | None) -> TokenUsage | None:
    if not usage:
        return None
    return TokenUsage(input_tokens=int(usage.get("prompt_tokens") or 0),
                      output_tokens=int(usage.get("completion_tokens") or 0))
