"""Each provider's real wire format, written by the mock server: JSON answers, SSE events, errors.

A `Reply` is plain data (it also arrives as JSON through the mock's control
endpoint), so browser tests can script the same answers as Python tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """What the mock answers to one request.

    Success: `text`, `tool_calls` ([{id, name, arguments: dict}]), `usage` (input, output).
    Faults: `status` with `error` and `retry_after`; `delay` (seconds before the headers);
    `stall` (seconds of silence half-way through the body); `truncate` (close the
    connection half-way, or in the middle of event number `truncate_after`); `garbage`
    (this body, with status 200, instead of the answer); `stream_error` (an error event
    half-way through a stream).
    """

    text: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    usage: tuple[int, int] = (12, 5)
    status: int = 200
    error: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    stall: float = 0.0
    truncate: bool = False
    truncate_after: int | None = None  # events sent whole before the cut (default: half)
    garbage: str | None = None
    stream_error: str | None = None

    @classmethod
    def coerce(cls, value: Reply | dict | str) -> Reply:
        if isinstance(value, Reply):
            return value
        if isinstance(value, str):
            return cls(text=value)
        data = dict(value)
        if "usage" in data:
            data["usage"] = tuple(data["usage"])
        return cls(**data)


def pieces(text: str) -> list[str]:
    """Text in the small pieces a stream sends (a word and its trailing space each)."""
    return re.findall(r"\S+\s*|\s+", text)


def halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


# -- OpenAI chat completions -----------------------------------------------------------------------
def openai_json(reply: Reply, model: str) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": c["id"], "type": "function",
                                  "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                                 for c in reply.tool_calls]
    return {"id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1],
                      "total_tokens": sum(reply.usage)}}


def openai_events(reply: Reply, model: str, include_usage: bool) -> list[str]:
    def chunk(delta: dict, finish: str | None = None) -> str:
        return sse({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces(reply.text)]
    for index, call in enumerate(reply.tool_calls):
        first, second = halves(json.dumps(call["arguments"]))
        events.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                             "function": {"name": call["name"], "arguments": ""}}]}))
        events += [chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
                   for part in (first, second)]
    events.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if include_usage:
        events.append(sse({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": model,
                           "choices": [], "usage": {"prompt_tokens": reply.usage[0],
                                                    "completion_tokens": reply.usage[1],
                                                    "total_tokens": sum(reply.usage)}}))
    events.append(sse("[DONE]"))
    return events


def openai_error(status: int, message: str) -> dict:
    kinds = {401: "invalid_request_error", 404: "invalid_request_error", 429: "rate_limit_error"}
    return {"error": {"message": message, "type": kinds.get(status, "server_error"), "param": None,
                      "code": {401: "invalid_api_key", 404: "model_not_found"}.get(status)}}


# -- Anthropic messages ----------------------------------------------------------------------------
def anthropic_json(reply: Reply, model: str) -> dict:
    content: list[dict] = [{"type": "text", "text": reply.text}] if reply.text else []
    content += [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                for c in reply.tool_calls]
    return {"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": reply.usage[0], "output_tokens": reply.usage[1]}}


def anthropic_events(reply: Reply, model: str) -> list[str]:
    start = anthropic_json(Reply(usage=(reply.usage[0], 1)), model)
    events = [sse({"type": "message_start", "message": start}, "message_start"),
              sse({"type": "ping"}, "ping")]
    index = 0
    if reply.text:
        events.append(sse({"type": "content_block_start", "index": index,
                           "content_block": {"type": "text", "text": ""}}, "content_block_start"))
        events += [sse({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
                   for piece in pieces(reply.text)]
        events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1
    for call in reply.tool_calls:
        events.append(sse({"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}}, "content_block_start"))
        events += [sse({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": part}}, "content_block_delta")
                   for part in halves(json.dumps(call["arguments"]))]
        events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1
    events.append(sse({"type": "message_delta",
                       "delta": {"stop_reason": "tool_use" if reply.tool_calls else "end_turn"},
                       "usage": {"output_tokens": reply.usage[1]}}, "message_delta"))
    events.append(sse({"type": "message_stop"}, "message_stop"))
    return events


def anthropic_error(status: int, message: str) -> dict:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}


def anthropic_stream_error(message: str) -> str:
    return sse({"type": "error", "error": {"type": "overloaded_error", "message": message}}, "error")


# -- Gemini generateContent ------------------------------------------------------------------------
GEMINI_SIGNATURE = "bW9jay1zaWduYXR1cmU="  # Gemini 3 signs the first function call of a turn


def _gemini_calls(reply: Reply) -> list[dict]:
    parts = [{"functionCall": {"name": c["name"], "args": c["arguments"]}} for c in reply.tool_calls]
    if parts:
        parts[0]["thoughtSignature"] = GEMINI_SIGNATURE
    return parts


def gemini_json(reply: Reply, model: str) -> dict:
    parts: list[dict] = [{"text": reply.text}] if reply.text else []
    parts += _gemini_calls(reply)
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": _gemini_usage(reply), "modelVersion": model}


def gemini_events(reply: Reply, model: str) -> list[str]:
    texts = pieces(reply.text)
    events = [sse({"candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}],
                   "usageMetadata": {"promptTokenCount": reply.usage[0]}, "modelVersion": model})
              for piece in texts[:-1]]
    last: list[dict] = [{"text": texts[-1]}] if texts else []
    last += _gemini_calls(reply)
    events.append(sse({"candidates": [{"content": {"role": "model", "parts": last}, "finishReason": "STOP",
                                       "index": 0}], "usageMetadata": _gemini_usage(reply), "modelVersion": model}))
    return events


def _gemini_usage(reply: Reply) -> dict:
    return {"promptTokenCount": reply.usage[0], "candidatesTokenCount": reply.usage[1],
            "totalTokenCount": sum(reply.usage)}


def gemini_error(status: int, message: str) -> dict:
    kinds = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
    return {"error": {"code": status, "message": message, "status": kinds.get(status, "INTERNAL")}}
