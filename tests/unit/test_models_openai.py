"""OpenAIModel: our messages to chat-completions JSON and back (pure: also runs in Pyodide)."""

import json

import pytest
from providers import wire
from providers.fakes import FakeClock, ScriptedTransport, Streamed, json_response
from sample_tools import add

from wasm_agent.errors import AgentGenerationError
from wasm_agent.messages import (
    ChatMessage,
    ChatMessageToolCall,
    agglomerate_stream_deltas,
)
from wasm_agent.models import OpenAIModel
from wasm_agent.models.sse import ServerSentEvent

CONVERSATION = [
    ChatMessage(role="system", content="You add."),
    ChatMessage(role="user", content="1 + 2?"),
    ChatMessage(role="assistant", content=None,
                tool_calls=[ChatMessageToolCall(id="call_1", name="add", arguments={"a": 1, "b": 2})]),
    ChatMessage(role="tool", content="3", tool_call_id="call_1"),
    ChatMessage(role="tool", content="Observation: printed 3"),  # a CodeAgent observation: no call id
]


def model(**kwargs):
    kwargs.setdefault("transport", ScriptedTransport())
    return OpenAIModel("gpt-test", api_key="sk-test", **kwargs)


def test_messages_tool_calls_and_tool_results_in_chat_completions_shape():
    body = model().payload(CONVERSATION, stop_sequences=["</code>"], tools=[add], stream=False, options={})
    assert body["model"] == "gpt-test" and body["stop"] == ["</code>"]
    assert body["messages"] == [
        {"role": "system", "content": "You add."},
        {"role": "user", "content": "1 + 2?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "3"},
        {"role": "user", "content": "Observation: printed 3"},
    ]
    (schema,) = body["tools"]
    assert schema["type"] == "function" and schema["function"]["name"] == "add"
    assert schema["function"]["parameters"]["required"] == ["a", "b"]
    assert "stream" not in body


def test_streaming_asks_for_usage_unless_told_not_to():
    body = model().payload(CONVERSATION[:2], stop_sequences=None, tools=None, stream=True, options={})
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stop" not in body and "tools" not in body
    body = model(stream_usage=False).payload(CONVERSATION[:2], stop_sequences=None, tools=None, stream=True,
                                             options={})
    assert "stream_options" not in body


async def test_options_go_into_the_body_and_call_keywords_override_them():
    transport = ScriptedTransport(json_response(wire.openai_json(wire.Reply("hi"), "gpt-test")))
    await model(transport=transport, temperature=0.2, seed=7).agenerate(CONVERSATION[:2], temperature=0.9,
                                                                       tool_choice="required")
    (body,) = transport.json_bodies()
    assert (body["temperature"], body["seed"], body["tool_choice"]) == (0.9, 7, "required")


async def test_headers_carry_key_organization_project_and_extra_headers():
    transport = ScriptedTransport(json_response(wire.openai_json(wire.Reply("hi"), "gpt-test")))
    await model(transport=transport, api_base="https://router.example/v1/", organization="org-1",
                project="proj-1", extra_headers={"HTTP-Referer": "https://my.site"}).agenerate(CONVERSATION[:2])
    (request,) = transport.requests
    assert request.url == "https://router.example/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert (request.headers["openai-organization"], request.headers["openai-project"]) == ("org-1", "proj-1")
    assert request.headers["HTTP-Referer"] == "https://my.site"
    assert request.headers["content-type"] == "application/json"


def test_a_local_server_needs_no_key():
    assert "authorization" not in OpenAIModel("llama", api_base="http://127.0.0.1:8080/v1").auth_headers()


def test_an_answer_becomes_a_message_with_tool_calls_and_usage():
    reply = wire.Reply("Let me add.", tool_calls=[{"id": "c9", "name": "add", "arguments": {"a": 2, "b": 3}}],
                       usage=(30, 8))
    message = model().parse(wire.openai_json(reply, "gpt-test"))
    assert message.content == "Let me add."
    assert message.tool_calls[0].id == "c9" and message.tool_calls[0].parsed_arguments() == {"a": 2, "b": 3}
    assert (message.token_usage.input_tokens, message.token_usage.output_tokens) == (30, 8)


def decode(events):
    decoder = model().stream_decoder()
    deltas = [delta for event in events for delta in decoder.feed(ServerSentEvent(data=event))]
    return decoder, deltas + decoder.finish()


def test_stream_fragments_of_several_tool_calls_join_by_index():
    chunk = lambda delta: json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    events = [
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "add", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "add", "arguments": '{"a": 5'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1, "b": 1}'}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": ', "b": 5}'}}]}),
        json.dumps({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}),
        "[DONE]",
    ]
    decoder, deltas = decode(events)
    assert decoder.done
    message = agglomerate_stream_deltas(deltas)
    assert [(c.id, c.parsed_arguments()) for c in message.tool_calls] == [("a", {"a": 1, "b": 1}),
                                                                           ("b", {"a": 5, "b": 5})]
    assert message.token_usage.total_tokens == 12


def test_running_usage_totals_are_counted_once():
    events = [json.dumps({"choices": [{"delta": {"content": "a"}}], "usage": {"prompt_tokens": 5,
                                                                            "completion_tokens": n}})
              for n in (1, 2, 3)] + ["[DONE]"]
    _, deltas = decode(events)
    assert agglomerate_stream_deltas(deltas).token_usage.output_tokens == 3


def test_a_server_without_done_may_end_after_the_finish_reason():
    decoder, _ = decode([json.dumps({"choices": [{"delta": {"content": "x"}, "finish_reason": "stop"}]})])
    assert decoder.complete and not decoder.done


async def test_an_error_sent_mid_stream_is_retried_before_anything_was_delivered():
    error = wire.sse({"error": {"message": "upstream overloaded"}}).encode()
    good = [e.encode() for e in wire.openai_events(wire.Reply("fine"), "gpt-test", True)]
    transport = ScriptedTransport(Streamed([error]), Streamed(good))
    deltas = [d async for d in model(transport=transport, clock=FakeClock()).generate_stream(CONVERSATION[:2])]
    assert agglomerate_stream_deltas(deltas).content == "fine"


async def test_garbage_json_in_a_stream_is_reported():
    transport = ScriptedTransport(Streamed([b"data: {not json\n\n"]))
    with pytest.raises(AgentGenerationError, match="not JSON"):
        [d async for d in model(transport=transport).generate_stream(CONVERSATION[:2])]



def test_smolagents_constructor_arguments_keep_their_meaning():
    m = OpenAIModel("gpt-test", client_kwargs={"base_url": "http://proxy.test/v1", "timeout": 9, "max_retries": 1,
                                               "default_headers": {"x-team": "a"}},
                    custom_role_conversions={"tool": "user"}, flatten_messages_as_text=True,
                    transport=ScriptedTransport())
    assert (m.api_base, m.timeout, m.retrier.policy.max_retries) == ("http://proxy.test/v1", 9, 1)
    request = m._request(CONVERSATION[3:4], None, None, {}, stream=False)
    assert request.headers["x-team"] == "a"
    assert json.loads(request.body)["messages"] == [{"role": "user", "content": "3"}]
    with pytest.raises(TypeError, match="http_client"):
        OpenAIModel("gpt-test", client_kwargs={"http_client": object()})


def test_a_call_without_arguments_sends_an_empty_object():
    message = ChatMessage(role="assistant", tool_calls=[ChatMessageToolCall(id="c", name="now", arguments="")])
    body = model().payload([message], stop_sequences=None, tools=None, stream=False, options={})
    assert body["messages"][0]["tool_calls"][0]["function"]["arguments"] == "{}"


async def test_timeout_and_extra_headers_per_call_stay_out_of_the_body():
    transport = ScriptedTransport(json_response(wire.openai_json(wire.Reply("hi"), "gpt-test")))
    await model(transport=transport, timeout=30).agenerate(CONVERSATION[:2], timeout=4, extra_headers={"x-run": "7"})
    (request,) = transport.requests
    assert request.timeout == 4 and request.headers["x-run"] == "7"
    assert "timeout" not in json.loads(request.body) and "extra_headers" not in json.loads(request.body)
