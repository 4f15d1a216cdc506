import base64
import json

import pytest

from wasm_agent import CodeAgent, ScriptedModel, ToolCallingAgent, tool
from wasm_agent.tracing import Prices, timeline, to_otlp, totals


@tool
def lookup(key: str) -> str:
    """Look a key up.

    Args:
        key: The key.
    """
    if key == "missing":
        raise KeyError(key)
    return key.upper()


def code(body):
    return f"Thought: go\n<code>\n{body}\n</code>"


def code_run():
    agent = CodeAgent([lookup], ScriptedModel([code("x = lookup('a')"), code("1 / 0"), code("final_answer(x)")]),
                      executor_type="inprocess")
    agent.run("Look up a")
    return agent.memory.get_full_steps()


def test_timeline_has_each_step_with_its_model_call_and_code_execution():
    rows = timeline(code_run(), model_id="scripted")
    assert [(r.kind, r.name) for r in rows] == [
        ("step", "step 1"), ("model", "chat scripted"), ("tool", "execute_tool python_interpreter"),
        ("step", "step 2"), ("model", "chat scripted"), ("tool", "execute_tool python_interpreter"),
        ("step", "step 3"), ("model", "chat scripted"), ("tool", "execute_tool python_interpreter")]
    steps = [r for r in rows if r.kind == "step"]
    for row in rows:
        if row.parent is not None:
            parent = rows[row.parent]
            assert parent.kind == "step" and parent.start <= row.start <= row.end <= parent.end
    assert "ZeroDivisionError" in steps[1].error and "ZeroDivisionError" in rows[5].error
    assert all(r.input_tokens > 0 for r in rows if r.kind == "model")


def test_tool_calls_of_a_tool_calling_agent_are_spans_with_their_errors():
    agent = ToolCallingAgent([lookup], ScriptedModel([
        '{"name": "lookup", "arguments": {"key": "missing"}}',
        '{"name": "final_answer", "arguments": {"answer": "no"}}']))
    agent.run("Look up missing")
    rows = timeline(agent.memory.get_full_steps())
    tools = [r for r in rows if r.kind == "tool"]
    assert [t.name for t in tools] == ["execute_tool lookup", "execute_tool final_answer"]
    assert "KeyError" in tools[0].error and tools[1].error is None


def test_totals_and_cost_estimate():
    steps = [{"type": "action", "token_usage": {"input_tokens": 1000, "output_tokens": 100}},
             {"type": "planning", "token_usage": {"input_tokens": 500, "output_tokens": 50}}]
    assert totals(steps, Prices(input_per_million=2.0, output_per_million=10.0)) == {
        "input_tokens": 1500, "output_tokens": 150, "total_tokens": 1650, "cost_usd": 0.0045}


@pytest.mark.cpython_only  # the official OTLP schema (opentelemetry-proto) is a CPython test dependency
def test_otlp_export_is_valid_otlp_json():
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    data = json.loads(json.dumps(to_otlp(code_run(), run_id="0af7651916cd43dd8448eb211c80319c", title="Look up a",
                                         status="success", model_id="scripted", prices=Prices(1.0, 2.0))))
    spans = data["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 10  # the run, 3 steps, 3 model calls, 3 code executions
    root = spans[0]
    assert root["traceId"] == "0af7651916cd43dd8448eb211c80319c" and "parentSpanId" not in root
    ids = {s["spanId"] for s in spans}
    assert len(ids) == 10 and all(s["parentSpanId"] in ids for s in spans[1:])
    chat = [s for s in spans if s["name"] == "chat scripted"][0]
    attributes = {a["key"]: a["value"] for a in chat["attributes"]}
    assert attributes["gen_ai.operation.name"] == {"stringValue": "chat"} and chat["kind"] == 3
    assert int(attributes["gen_ai.usage.input_tokens"]["intValue"]) > 0
    assert sum(1 for s in spans if s["status"]["code"] == 2) == 2  # the failing step and its code execution

    # OTLP/JSON differs from protobuf's JSON only in hex ids: convert them, then parse strictly.
    for span in spans:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    request = json_format.ParseDict(data, ExportTraceServiceRequest())  # rejects unknown fields and bad types
    assert request.resource_spans[0].scope_spans[0].spans[3].name == "execute_tool python_interpreter"
