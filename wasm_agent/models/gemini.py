"""Google's Gemini API: generateContent, streamGenerateContent with SSE, function calling."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Sequence

from ..messages import (ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, MessageRole, TokenUsage,
                        ToolCallDelta, content_text)
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
from .images import is_image_part, part_image_source
from .retry import ProviderFailure
from .sse import ServerSentEvent

# Keywords of other providers, mapped into Gemini's generationConfig.
GENERATION_CONFIG = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "seed": "seed",
                     "max_tokens": "maxOutputTokens", "max_output_tokens": "maxOutputTokens",
                     "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
                     "response_mime_type": "responseMimeType", "candidate_count": "candidateCount"}
TOOL_MODES = {"auto": "AUTO", "required": "ANY", "any": "ANY", "none": "NONE"}
# The JSON-schema words Gemini's `Schema` understands; others make it reject the request.
SCHEMA_KEYS = {"type", "format", "title", "description", "nullable", "enum", "items", "properties", "required",
               "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern", "anyOf",
               "default", "example", "propertyOrdering", "minProperties", "maxProperties"}


class GeminiModel(ProviderModel):
    """A Gemini model through the native API, the key in the `x-goog-api-key` header.

    >>> model = GeminiModel("gemini-2.5-flash", api_key="AIza...", temperature=0)
    >>> # answer = await model.generate([ChatMessage(role="user", content="Hi")])

    `temperature`, `top_p`, `max_tokens`, ... go into `generationConfig`;
    `generation_config={...}` and `safety_settings=[...]` are passed as given;
    `tool_choice` takes "auto", "required" or "none".
    """

    provider = PROVIDERS["gemini"].label
    default_api_base = PROVIDERS["gemini"].base_url
    api_key_env = PROVIDERS["gemini"].key_env
    browser_hint = ("generativelanguage.googleapis.com accepts browser requests with the key in the "
                    "x-goog-api-key header; a proxy in between must allow that header in its CORS settings.")

    def __init__(self, model_id: str, **kwargs: Any):
        super().__init__(model_id, **kwargs)
        self.signatures = ThoughtSignatures(model_id)

    def url(self, stream: bool) -> str:
        model = self.model_id.removeprefix("models/")
        if stream:
            return f"{self.api_base}/models/{model}:streamGenerateContent?alt=sse"
        return f"{self.api_base}/models/{model}:generateContent"

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key} if self.api_key else {}

    def payload(self, messages: list[ChatMessage], *, stop_sequences: Sequence[str] | None,
                tools: Sequence[Any] | None, stream: bool, options: dict[str, Any]) -> dict:
        body: dict[str, Any] = {"contents": wire_contents(messages, self.signatures)}
        system = system_text(messages)
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        options = dict(options)
        config = dict(options.pop("generation_config", None) or {})
        for key, name in GENERATION_CONFIG.items():
            if key in options:
                config[name] = options.pop(key)
        if stop_sequences:
            config["stopSequences"] = list(stop_sequences)
        if config:
            body["generationConfig"] = config
        if tools:
            body["tools"] = [{"functionDeclarations": [function_declaration(f) for f in tool_functions(tools)]}]
        if "tool_choice" in options:
            body["toolConfig"] = {"functionCallingConfig": {"mode": TOOL_MODES[options.pop("tool_choice")]}}
        if "safety_settings" in options:
            body["safetySettings"] = options.pop("safety_settings")
        body.update(options)
        return body

    def parse(self, data: dict) -> ChatMessage:
        text, calls, _ = read_chunk(data, first_call=0, signatures=self.signatures)
        tool_calls = [ChatMessageToolCall(id=call.id, name=call.name, arguments=json.loads(call.arguments))
                      for call in calls]
        return ChatMessage(role=MessageRole.ASSISTANT, content=text if text or not calls else None,
                           tool_calls=tool_calls or None, token_usage=usage_of(data.get("usageMetadata")))

    def stream_decoder(self) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(self.signatures)


class GeminiStreamDecoder:
    """Each event is a whole response chunk; there is no end marker, only a finishReason."""

    done = False  # never: read to the end, a usage-only chunk may follow the finishReason

    def __init__(self, signatures: ThoughtSignatures) -> None:
        self.signatures = signatures
        self.complete = False
        self.calls = 0
        self.usage: TokenUsage | None = None

    def feed(self, event: ServerSentEvent) -> list[ChatMessageStreamDelta]:
        data = parse_event_json(event, "Gemini")
        if isinstance(data, dict) and data.get("error"):
            raise ProviderFailure("stream", f"Gemini sent an error mid-stream: {data['error'].get('message')}",
                                  retryable=True)
        text, calls, finished = read_chunk(data, first_call=self.calls, signatures=self.signatures)
        self.calls += len(calls)
        self.complete = self.complete or finished
        if data.get("usageMetadata"):  # a running total: keep the last
            self.usage = usage_of(data["usageMetadata"])
        if text or calls:
            return [ChatMessageStreamDelta(content=text or None, tool_calls=calls or None)]
        return []

    def finish(self) -> list[ChatMessageStreamDelta]:
        return [ChatMessageStreamDelta(token_usage=self.usage)] if self.usage else []


def read_chunk(data: dict, *, first_call: int,
               signatures: ThoughtSignatures) -> tuple[str, list[ToolCallDelta], bool]:
    """Text, whole function calls and whether a finishReason came, from one (chunk of a) response."""
    candidates = data.get("candidates")
    if not candidates:
        reason = (data.get("promptFeedback") or {}).get("blockReason")
        if reason:
            raise ProviderFailure("refused", f"Gemini blocked the prompt ({reason})", retryable=False)
        if "usageMetadata" in data:
            return "", [], False
        raise KeyError("candidates")
    candidate = candidates[0]
    texts, calls = [], []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if "text" in part and not part.get("thought"):
            texts.append(part["text"])
        elif "functionCall" in part:
            call = part["functionCall"]
            # Gemini often sends no id: make one that stays unique across the turns of a run.
            call_id = call.get("id") or f"call_{uuid.uuid4().hex[:12]}"
            signatures.keep(call_id, part.get("thoughtSignature"))
            calls.append(ToolCallDelta(index=first_call + len(calls), id=call_id, name=call["name"],
                                       arguments=json.dumps(call.get("args") or {})))
    return "".join(texts), calls, bool(candidate.get("finishReason"))


class ThoughtSignatures(CallMemory):
    """The `thoughtSignature` of each function call, to send back with it.

    Gemini 3 refuses a history whose function calls lack the signatures it
    gave them. A call whose signature is not known (a run restored from
    storage, a scripted history) gets the placeholder Google documents for
    that case.
    """

    PLACEHOLDER = "skip_thought_signature_validator"

    def __init__(self, model_id: str):
        super().__init__()
        # Gemini 1.x and 2.x do not check signatures: send them nothing they did not give.
        self.required = not re.match(r"(models/)?gemini-[12][.-]", model_id)

    def for_turn(self, calls: Sequence[ChatMessageToolCall]) -> list[str | None]:
        """The signature to send with each call of one model turn (only the first needs one)."""
        found = [self.get(call.id) for call in calls]
        if found and found[0] is None and self.required:
            found[0] = self.PLACEHOLDER
        return found


def wire_contents(messages: Sequence[ChatMessage], signatures: ThoughtSignatures) -> list[dict]:
    """Our messages as Gemini `contents` (roles user/model, parts), system left out."""
    names = {call.id: call.name for m in messages for call in m.tool_calls or ()}
    contents: list[dict] = []
    for message in messages:
        if message.role == MessageRole.SYSTEM:
            continue
        if is_tool_result(message):
            name = message.name or names.get(message.tool_call_id, "tool")
            response = {"result": content_text(message.content)}
            role, parts = "user", [{"functionResponse": {"name": name, "response": response}}]
        else:
            role = "model" if message.role == MessageRole.ASSISTANT else "user"
            parts = content_parts(message.content)
            if role == "model" and message.tool_calls:
                for call, signature in zip(message.tool_calls, signatures.for_turn(message.tool_calls), strict=True):
                    part = {"functionCall": {"name": call.name, "args": arguments_object(call)}}
                    if signature:
                        part["thoughtSignature"] = signature
                    parts.append(part)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def content_parts(content: str | list[dict] | None) -> list[dict]:
    """Text and image parts (an image inline as base64, or by URL as `fileData`)."""
    if isinstance(content, str) or not content:
        return [{"text": content}] if content else []
    parts = []
    for part in content:
        if is_image_part(part):
            source = part_image_source(part)
            parts.append({"fileData": {"mimeType": source.media_type, "fileUri": source.url}} if source.url else
                         {"inlineData": {"mimeType": source.media_type, "data": source.data}})
        elif isinstance(part, dict) and part.get("text"):
            parts.append({"text": part["text"]})
    return parts


def function_declaration(function: dict) -> dict:
    declaration = {"name": function["name"], "description": function.get("description", "")}
    parameters = function.get("parameters") or {}
    if parameters.get("properties"):  # an object with no properties is rejected: leave it out
        declaration["parameters"] = gemini_schema(parameters)
    return declaration


def gemini_schema(schema: Any) -> Any:
    """A JSON schema cut down to what Gemini accepts (`["string", "null"]` becomes nullable)."""
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in SCHEMA_KEYS:
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            value = types[0] if types else "string"
            if "null" in schema["type"]:
                result["nullable"] = True
        elif key == "properties":
            value = {name: gemini_schema(sub) for name, sub in value.items()}
        elif key == "items":
            value = gemini_schema(value)
        elif key == "anyOf":
            value = [gemini_schema(sub) for sub in value]
        result[key] = value
    return result


def usage_of(usage: dict | None) -> TokenUsage | None:
    if not usage:
        return None
    output = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
    return TokenUsage(input_tokens=int(usage.get("promptTokenCount") or 0), output_tokens=output)
