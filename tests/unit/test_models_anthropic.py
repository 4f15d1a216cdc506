"""AnthropicModel: our messages to the Messages API and back (pure: also runs in Pyodide)."""

import json

import pytest
from providers import wire
from providers.fakes import ScriptedTransport, Streamed, json_response

from wasm_agent.errors import AgentGenerationError
from wasm_agent.messages import ChatMessage, ChatMessageToolCall, agglomerate_stream_deltas
from wasm_agent.models import AnthropicModel
from wasm_agent.models.retry import ProviderFailure
from wasm_agent.models.sse import ServerSentEvent
from wasm_agent.tools import tool


@tool
def lookup(city: str) -> str:
    """Weather of a city.

    Args:
        city: The city.
    """
    return "sunny"


CONVERSATION = [
    ChatMessage(role="system", content="Be brief."),
    ChatMessage(role="system", content="Use tools."),
    ChatMessage(role="user", content="Weather in Paris and Rome?"),
    ChatMessage(role="assistant", content="Checking both.", tool_calls=[
        ChatMessageToolCall(id="tu_1", name="lookup", arguments='{"city": "Paris"}'),
        ChatMessageToolCall(id="tu_2", name="lookup", arguments={"city": "Rome"})]),
    ChatMessage(role="tool", content="sunny", tool_call_id="tu_1"),
    ChatMessage(role="tool", content="rainy", tool_call_id="tu_2"),
    ChatMessage(role="user", content="And so?"),
]


def model(**kwargs):
    kwargs.setdefault("transport", ScriptedTransport())
    return AnthropicModel("claude-test", api_key="sk-ant-test", **kwargs)


def test_system_apart_and_tool_use_and_results_as_blocks_in_alternating_turns():
    body = model().payload(CONVERSATION, stop_sequences=["</code>", "\n"], tools=[lookup], stream=True,
                           options={"max_tokens": 1000})
    assert body["system"] == "Be brief.\n\nUse tools."
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "tu_2", "name": "lookup", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [  # consecutive user-side messages share one turn
            {"type": "tool_result", "tool_use_id": "tu_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "tu_2", "content": "rainy"},
            {"type": "text", "text": "And so?"}]},
    ]
    assert body["stop_sequences"] == ["</code>"]  # the API rejects whitespace-only stop sequences
    assert body["tools"] == [{"name": "lookup", "description": lookup.description,
                              "input_schema": lookup.to_json_schema()["function"]["parameters"]}]
    assert body["stream"] is True and body["max_tokens"] == 1000


def test_max_tokens_has_a_default_and_tool_choice_takes_openai_words():
    body = model().payload(CONVERSATION[2:3], stop_sequences=None, tools=None, stream=False,
                           options={**model().options, "tool_choice": "required"})
    assert body["max_tokens"] == 4096 and body["tool_choice"] == {"type": "any"}
    assert "system" not in body and "stream" not in body


async def test_headers_allow_direct_browser_access_and_name_the_api_version():
    transport = ScriptedTransport(json_response(wire.anthropic_json(wire.Reply("hi"), "claude-test")))
    await model(transport=transport).agenerate(CONVERSATION[2:3])
    (request,) = transport.requests
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["anthropic-dangerous-direct-browser-access"] == "true"
    assert "authorization" not in request.headers


def test_an_answer_becomes_a_message_with_usage_including_cache_reads():
    data = wire.anthropic_json(wire.Reply("On it.", tool_calls=[{"id": "tu_9", "name": "lookup",
                                                                 "arguments": {"city": "Oslo"}}]), "claude-test")
    data["usage"] = {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 7}
    message = model().parse(data)
    assert message.content == "On it."
    assert message.tool_calls[0].parsed_arguments() == {"city": "Oslo"}
    assert (message.token_usage.input_tokens, message.token_usage.output_tokens) == (100, 7)


def feed_all(events):
    decoder = model().stream_decoder()
    deltas = []
    for text in events:
        for block in text.strip().split("\n\n"):
            name, data = (line.split(": ", 1)[1] for line in block.split("\n"))
            deltas += decoder.feed(ServerSentEvent(name, data))
    return decoder, deltas + decoder.finish()


def test_stream_events_give_text_tool_input_fragments_and_final_usage():
    reply = wire.Reply("Let me look.", tool_calls=[{"id": "tu_1", "name": "lookup", "arguments": {"city": "Rome"}}],
                       usage=(25, 14))
    decoder, deltas = feed_all(wire.anthropic_events(reply, "claude-test"))
    assert decoder.done
    message = agglomerate_stream_deltas(deltas)
    assert message.content == "Let me look."
    assert message.tool_calls[0].id == "tu_1"
    assert message.tool_calls[0].parsed_arguments() == {"city": "Rome"}
    assert (message.token_usage.input_tokens, message.token_usage.output_tokens) == (25, 14)


def test_an_overloaded_error_event_is_retryable_and_an_invalid_one_is_not():
    decoder = model().stream_decoder()
    for kind, retryable in (("overloaded_error", True), ("invalid_request_error", False)):
        event = ServerSentEvent("error", json.dumps({"type": "error", "error": {"type": kind, "message": "m"}}))
        with pytest.raises(ProviderFailure) as caught:
            decoder.feed(event)
        assert caught.value.retryable is retryable


async def test_an_unexpected_event_shape_is_reported_not_crashed_on():
    transport = ScriptedTransport(Streamed([b'event: content_block_delta\ndata: {"type": "content_block_delta"}\n\n']))
    with pytest.raises(AgentGenerationError, match="unexpected Anthropic stream event"):
        [d async for d in model(transport=transport).generate_stream(CONVERSATION[2:3])]


THINKING = {"type": "thinking", "thinking": "Paris first.", "signature": "c2ln"}


def test_thinking_blocks_go_back_before_the_tool_call_they_led_to():
    claude = model()
    call = {"id": "tu_5", "name": "lookup", "arguments": {"city": "Paris"}}
    data = wire.anthropic_json(wire.Reply(tool_calls=[call]), "claude-test")
    data["content"].insert(0, THINKING)
    answer = claude.parse(data)
    history = [ChatMessage(role="user", content="Weather?"), answer,
               ChatMessage(role="tool", content="sunny", tool_call_id="tu_5")]
    body = claude.payload(history, stop_sequences=None, tools=None, stream=False, options={})
    assert body["messages"][1]["content"][0] == THINKING
    assert body["messages"][1]["content"][1]["type"] == "tool_use"


def test_streamed_thinking_is_rebuilt_and_kept_for_the_next_turn():
    claude = model()
    decoder = claude.stream_decoder()
    events = [
        ("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Paris "}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "first."}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "c2ln"}}),
        ("content_block_start", {"index": 1, "content_block": {"type": "tool_use", "id": "tu_6", "name": "lookup",
                                                               "input": {}}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
        ("message_stop", {}),
    ]
    deltas = [delta for name, data in events
              for delta in decoder.feed(ServerSentEvent(name, json.dumps({"type": name, **data})))]
    answer = agglomerate_stream_deltas(deltas)
    assert answer.content is None  # thinking is not part of the answer's text
    body = claude.payload([answer], stop_sequences=None, tools=None, stream=False, options={})
    assert body["messages"][0]["content"][0] == THINKING
