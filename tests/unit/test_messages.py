from wasm_agent.messages import (ChatMessage, ChatMessageStreamDelta, ChatMessageToolCall, MessageRole,
                                 TokenUsage, ToolCallDelta, agglomerate_stream_deltas)
from wasm_agent.models import ScriptedModel


def test_openai_style_tool_call_dicts_are_accepted():
    message = ChatMessage(role="assistant", tool_calls=[
        {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}])
    call = message.tool_calls[0]
    assert (call.id, call.name, call.function.name) == ("c1", "add", "add")
    assert call.parsed_arguments() == {"a": 1, "b": 2}


def test_message_round_trips_through_dict():
    message = ChatMessage(role=MessageRole.ASSISTANT, content="hi", token_usage=TokenUsage(3, 4),
                          tool_calls=[ChatMessageToolCall(id="x", name="f", arguments={"q": 1})])
    again = ChatMessage.from_dict(message.to_dict())
    assert again == message
    assert again.token_usage.total_tokens == 7


def test_stream_deltas_join_into_text_and_tool_calls():
    deltas = [
        ChatMessageStreamDelta(content="Hel"),
        ChatMessageStreamDelta(content="lo", tool_calls=[ToolCallDelta(index=0, id="c", name="add", arguments='{"a"')]),
        ChatMessageStreamDelta(tool_calls=[ToolCallDelta(index=0, arguments=": 1}")]),
        ChatMessageStreamDelta(token_usage=TokenUsage(5, 2)),
    ]
    message = agglomerate_stream_deltas(deltas)
    assert message.content == "Hello"
    assert message.tool_calls[0].name == "add"
    assert message.tool_calls[0].parsed_arguments() == {"a": 1}
    assert message.token_usage == TokenUsage(5, 2)


async def test_scripted_model_cuts_at_stop_sequences_like_a_provider():
    model = ScriptedModel(["Thought: x\n<code>print(1)</code>\nObservation: made up"])
    answer = await model.agenerate([ChatMessage(role="user", content="go")], stop_sequences=["Observation:"])
    assert answer.content == "Thought: x\n<code>print(1)</code>\n"
    assert model.calls[0]["stop_sequences"] == ["Observation:"]


async def test_scripted_model_streams_through_the_base_class():
    model = ScriptedModel(["abc"])
    deltas = [d async for d in model.generate_stream([ChatMessage(role="user", content="go")])]
    assert [d.content for d in deltas] == ["abc"]
    assert not model.supports_streaming
