"""What a run did, as a timeline and as OpenTelemetry spans (OTLP/JSON).

Both read a run's saved steps (`memory.get_full_steps()`, or a `RunStore`'s
`load_steps`), so a run can be inspected and exported after a reload. Span
names and attributes follow OpenTelemetry's GenAI conventions (`chat`,
`execute_tool`, `gen_ai.usage.*`), so tracing tools show them as LLM calls.

>>> rows = timeline([{"type": "task", "task": "Add"}])
>>> rows
[]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from . import __name__ as _package


@dataclass
class Prices:
    """Provider prices, in US dollars per million tokens, for a cost estimate."""

    input_per_million: float
    output_per_million: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1e6


@dataclass
class TimelineRow:
    """One span of work: a step, a model call or a tool call."""

    kind: str  # "step" | "planning" | "model" | "tool"
    name: str
    start: float
    end: float
    parent: int | None = None  # index of the enclosing row
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


def timeline(steps: list[dict], model_id: str | None = None) -> list[TimelineRow]:
    """Rows in time order: each step, then its model call and tool calls inside it."""
    rows: list[TimelineRow] = []
    for step in steps:
        kind = step.get("type")
        if kind not in ("action", "planning"):
            continue
        start, end = _span(step.get("timing"))
        usage = step.get("token_usage") or {}
        error = (step.get("error") or {}).get("message")
        parent = len(rows)
        name = f"step {step.get('step_number')}" if kind == "action" else "planning"
        rows.append(TimelineRow("step" if kind == "action" else "planning", name, start, end, error=error))
        model_start, model_end = _span(step.get("model_timing") or step.get("timing"))
        if kind == "planning" or step.get("model_timing"):
            rows.append(TimelineRow("model", f"chat {model_id or 'model'}", model_start, model_end, parent,
                                    int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)),
                                    attributes={"gen_ai.request.model": model_id} if model_id else {}))
        for call in step.get("tool_calls") or ():
            if not call.get("timing"):
                continue
            call_start, call_end = _span(call["timing"])
            observation = call.get("observation") or ""
            call_error = observation[len("Error: "):] if observation.startswith("Error: ") else None
            if call["name"] == "python_interpreter" and error and kind == "action":
                call_error = error
            rows.append(TimelineRow("tool", f"execute_tool {call['name']}", call_start, call_end, parent,
                                    error=call_error, attributes={"gen_ai.tool.name": call["name"],
                                                                  "gen_ai.tool.call.id": call["id"]}))
    return rows


def totals(steps: list[dict], prices: Prices | None = None) -> dict[str, Any]:
    """Token totals over a run, and its estimated cost when prices are given."""
    input_tokens = sum(int((s.get("token_usage") or {}).get("input_tokens", 0)) for s in steps)
    output_tokens = sum(int((s.get("token_usage") or {}).get("output_tokens", 0)) for s in steps)
    result: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                              "total_tokens": input_tokens + output_tokens}
    if prices is not None:
        result["cost_usd"] = prices.cost(input_tokens, output_tokens)
    return result


def to_otlp(steps: list[dict], *, run_id: str, title: str = "run", status: str | None = None,
            model_id: str | None = None, prices: Prices | None = None,
            service_name: str = "wasm-agent") -> dict:
    """The run as an OTLP/JSON trace: `{"resourceSpans": [{"scopeSpans": [{"spans": [...]}]}]}`.

    One root span for the run, one child per step, and under each step its
    model call (`chat …`, with token usage) and tool calls (`execute_tool …`).
    """
    from . import __version__

    trace_id = _hex_id(run_id, 32)
    rows = timeline(steps, model_id)
    root_id = _hex_id(f"{run_id}:run", 16)
    run_start = min((r.start for r in rows), default=0.0)
    run_end = max((r.end for r in rows), default=run_start)
    run_totals = totals(steps, prices)
    root_attributes = {"gen_ai.operation.name": "invoke_agent", "wasm_agent.run.id": run_id,
                       "gen_ai.usage.input_tokens": run_totals["input_tokens"],
                       "gen_ai.usage.output_tokens": run_totals["output_tokens"]}
    if status:
        root_attributes["wasm_agent.run.status"] = status
    if "cost_usd" in run_totals:
        root_attributes["wasm_agent.cost.usd"] = run_totals["cost_usd"]
    spans = [_span_json(trace_id, root_id, None, f"invoke_agent {title}", 1, run_start, run_end,
                        root_attributes, "error" if status == "error" else None)]
    span_ids = [_hex_id(f"{run_id}:{index}", 16) for index in range(len(rows))]
    for index, row in enumerate(rows):
        parent = root_id if row.parent is None else span_ids[row.parent]
        attributes = dict(row.attributes)
        if row.kind == "model":
            attributes.update({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": row.input_tokens,
                               "gen_ai.usage.output_tokens": row.output_tokens})
            if prices is not None:
                attributes["wasm_agent.cost.usd"] = prices.cost(row.input_tokens, row.output_tokens)
        elif row.kind == "tool":
            attributes["gen_ai.operation.name"] = "execute_tool"
        kind = 3 if row.kind == "model" else 1  # SPAN_KIND_CLIENT for calls to a provider, else INTERNAL
        spans.append(_span_json(trace_id, span_ids[index], parent, row.name, kind, row.start, row.end,
                                attributes, row.error))
    return {"resourceSpans": [{
        "resource": {"attributes": _attributes({"service.name": service_name})},
        "scopeSpans": [{"scope": {"name": _package, "version": __version__}, "spans": spans}],
    }]}


# -- helpers ---------------------------------------------------------------------------

def _span(timing: dict | None) -> tuple[float, float]:
    timing = timing or {}
    start = float(timing.get("start_time") or 0.0)
    end = timing.get("end_time")
    return start, float(end) if end is not None else start


def _hex_id(text: str, length: int) -> str:
    if len(text) == length and all(c in "0123456789abcdef" for c in text) and set(text) != {"0"}:
        return text
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _span_json(trace_id: str, span_id: str, parent_id: str | None, name: str, kind: int, start: float,
               end: float, attributes: dict[str, Any], error: str | None) -> dict:
    span: dict[str, Any] = {
        "traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
        "startTimeUnixNano": str(int(start * 1e9)), "endTimeUnixNano": str(int(end * 1e9)),
        "attributes": _attributes(attributes),
        "status": {"code": 2, "message": error} if error else {"code": 1},
    }
    if parent_id is not None:
        span["parentSpanId"] = parent_id
    if error:
        span["events"] = [{"name": "exception", "timeUnixNano": str(int(end * 1e9)),
                           "attributes": _attributes({"exception.message": error})}]
    return span


def _attributes(values: dict[str, Any]) -> list[dict]:
    return [{"key": key, "value": _any_value(value)} for key, value in values.items() if value is not None]


def _any_value(value: Any) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in OTLP/JSON
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}
