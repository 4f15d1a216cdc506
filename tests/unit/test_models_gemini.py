"""GeminiModel: our messages to generateContent JSON and back (pure: also runs in Pyodide)."""

import json

import pytest
from providers import wire
from providers.fakes import ScriptedTransport, Streamed, json_response

from wasm_agent.errors import AgentGenerationError
from wasm_agent.messages import ChatMessage, ChatMessageToolCall, agglomerate_stream_deltas
from wasm_agent.models import GeminiModel
from wasm_agent.models.gemini import gemini_schema
from wasm_agent.models.sse import SSEParser
from wasm_agent.tools import tool


@tool
def search(query: str, limit: int | None = None) -> str:
    """Search the web.

    Args:
        query: What to look for.
        limit: How many results.
    """
    return ""


CONVERSATION = [
    ChatMessage(role="system", content="Answer with sources."),
    ChatMessage(role="user", content="Who wrote Dune?"),
    ChatMessage(role="assistant", content=None,
                tool_calls=[ChatMessageToolCall(id="call_0", name="search", arguments={"query": "Dune author"})]),
    ChatMessage(role="tool", content="Frank Herbert", tool_call_id="call_0"),
    ChatMessage(role="assistant", content="Frank Herbert."),
]


def model(**kwargs):
    kwargs.setdefault("transport", ScriptedTransport())
    return GeminiModel("models/gemini-test", api_key="AIza-test", **kwargs)


def test_contents_use_user_and_model_roles_with_function_parts():
    body = model().payload(CONVERSATION, stop_sequences=["</code>"], tools=[search], stream=False,
                           options={"temperature": 0, "max_tokens": 256, "seed": 3})
    assert body["systemInstruction"] == {"parts": [{"text": "Answer with sources."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Who wrote Dune?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "search", "args": {"query": "Dune author"}},
                                     "thoughtSignature": "skip_thought_signature_validator"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "search",  # found from the call's id
                                                         "response": {"result": "Frank Herbert"}}}]},
        {"role": "model", "parts": [{"text": "Frank Herbert."}]},
    ]
    assert body["generationConfig"] == {"temperature": 0, "maxOutputTokens": 256, "seed": 3,
                                        "stopSequences": ["</code>"]}
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "search"
    assert declaration["parameters"]["properties"]["limit"].get("nullable") is True


def test_schemas_lose_the_words_gemini_rejects():
    schema = {"type": "object", "additionalProperties": False, "$schema": "x", "properties": {
        "tags": {"type": "array", "items": {"type": ["string", "null"], "title": "Tag"}}}}
    assert gemini_schema(schema) == {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string", "nullable": True, "title": "Tag"}}}}


def test_tool_choice_becomes_a_function_calling_mode():
    body = model().payload(CONVERSATION[1:2], stop_sequences=None, tools=[search], stream=False,
                           options={"tool_choice": "required", "safety_settings": [{"category": "x"}]})
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["safetySettings"] == [{"category": "x"}] and "generationConfig" not in body


async def test_key_goes_in_a_header_never_in_the_url():
    transport = ScriptedTransport(json_response(wire.gemini_json(wire.Reply("hi"), "gemini-test")),
                                  Streamed([e.encode() for e in wire.gemini_events(wire.Reply("hi"), "gemini-test")]))
    await model(transport=transport).agenerate(CONVERSATION[1:2])
    [d async for d in model(transport=transport).generate_stream(CONVERSATION[1:2])]
    plain, streamed = transport.requests
    base = "https://generativelanguage.googleapis.com/v1beta/models/gemini-test"
    assert plain.url == f"{base}:generateContent"
    assert streamed.url == f"{base}:streamGenerateContent?alt=sse"
    assert plain.headers["x-goog-api-key"] == "AIza-test" and "AIza" not in plain.url + streamed.url


def test_an_answer_becomes_a_message_with_calls_and_usage_counting_thoughts():
    data = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "thinking...", "thought": True}, {"text": "Searching."},
        {"functionCall": {"name": "search", "args": {"query": "q"}}},
        {"functionCall": {"id": "fc_2", "name": "search", "args": {"query": "r"}}}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 6, "thoughtsTokenCount": 4}}
    message = model().parse(data)
    assert message.content == "Searching."
    assert [c.parsed_arguments() for c in message.tool_calls] == [{"query": "q"}, {"query": "r"}]
    assert message.tool_calls[0].id.startswith("call_") and message.tool_calls[1].id == "fc_2"
    assert (message.token_usage.input_tokens, message.token_usage.output_tokens) == (20, 10)


async def test_a_blocked_prompt_is_reported_not_retried():
    transport = ScriptedTransport(json_response({"promptFeedback": {"blockReason": "SAFETY"}}))
    with pytest.raises(AgentGenerationError, match=r"blocked the prompt \(SAFETY\).*refused"):
        await model(transport=transport).agenerate(CONVERSATION[1:2])
    assert len(transport.requests) == 1


def test_stream_chunks_are_complete_at_the_finish_reason_and_usage_is_the_last_total():
    gemini = model()
    decoder = gemini.stream_decoder()
    reply = wire.Reply("one two three", tool_calls=[{"id": "x", "name": "search", "arguments": {"query": "q"}}],
                       usage=(9, 5))
    deltas = []
    for event in wire.gemini_events(reply, "gemini-test"):
        for parsed in SSEParser().feed(event):
            deltas += decoder.feed(parsed)
    assert decoder.complete
    message = agglomerate_stream_deltas(deltas + decoder.finish())
    assert message.content == "one two three"
    assert message.tool_calls[0].name == "search" and message.tool_calls[0].parsed_arguments() == {"query": "q"}
    assert (message.token_usage.input_tokens, message.token_usage.output_tokens) == (9, 5)
    body = gemini.payload([message], stop_sequences=None, tools=None, stream=True, options={})
    assert body["contents"][0]["parts"][-1]["thoughtSignature"] == wire.GEMINI_SIGNATURE


async def test_an_error_in_a_list_is_read_like_any_other():
    transport = ScriptedTransport(json_response([{"error": {"code": 400, "message": "API key not valid."}}], 400))
    with pytest.raises(AgentGenerationError, match="API key not valid.*Check the API key"):
        await model(transport=transport).agenerate(CONVERSATION[1:2])
    assert json.loads(transport.requests[0].body)["contents"][0]["parts"] == [{"text": "Who wrote Dune?"}]


def test_calls_without_ids_get_ids_unique_across_answers():
    data = wire.gemini_json(wire.Reply(tool_calls=[{"id": "", "name": "search", "arguments": {"query": "q"}}]), "g")
    gemini = model()
    first, second = gemini.parse(data), gemini.parse(data)
    assert first.tool_calls[0].id != second.tool_calls[0].id


def test_thought_signatures_go_back_with_their_calls():
    gemini = model()
    calls = [{"id": "", "name": "search", "arguments": {"query": q}} for q in ("a", "b")]
    answer = gemini.parse(wire.gemini_json(wire.Reply(tool_calls=calls), "gemini-test"))
    history = [ChatMessage(role="user", content="Find a and b."), answer,
               ChatMessage(role="tool", content="A", tool_call_id=answer.tool_calls[0].id),
               ChatMessage(role="tool", content="B", tool_call_id=answer.tool_calls[1].id)]
    body = gemini.payload(history, stop_sequences=None, tools=None, stream=False, options={})
    first, second = body["contents"][1]["parts"]
    assert first["thoughtSignature"] == wire.GEMINI_SIGNATURE  # as received
    assert "thoughtSignature" not in second  # parallel calls: only the first is signed
    assert [p["functionResponse"]["name"] for p in body["contents"][2]["parts"]] == ["search", "search"]


def test_older_gemini_models_get_no_placeholder_signature():
    older = GeminiModel("gemini-2.5-flash", api_key="k", transport=ScriptedTransport())
    body = older.payload(CONVERSATION, stop_sequences=None, tools=None, stream=False, options={})
    assert "thoughtSignature" not in body["contents"][1]["parts"][0]
