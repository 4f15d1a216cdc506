"""Runs in the browser: `IndexedDBRunStore` and the agent worker's run handlers.

`IndexedDBRunStore` is the `RunStore` of the agent worker's Pyodide: a thin
adapter over web/run-store.js (IndexedDB), so `run_store=` works in a browser
as `FileRunStore` does on CPython. JSON crosses as strings (`callJson`), so
values stay exact and no JS proxy outlives a call.

    store = IndexedDBRunStore(js_store)          # js_store = await openRunStore() in JS
    agent = CodeAgent(tools, model, run_store=store)

The functions below are what web/runs-api.js's `installRunHandlers` routes
to: attach a store to an `AgentSession`, run or resume a task (the result
names its `runId`), and a saved run's events (to show it), timeline or OTLP/JSON trace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..errors import AgentError
from ..executor.protocol import to_wire
from ..memory import ActionStep, FinalAnswerStep, PlanningStep, TaskStep
from ..persistence import RunBusyError, RunRecord, RunStore, RunStoreError, saved_memory
from ..run_format import RunFormatError
from ..tracing import Prices, timeline, to_otlp, totals

if TYPE_CHECKING:  # browser_agent imports js: only the agent worker can load it
    from .browser_agent import AgentSession


class IndexedDBRunStore(RunStore):
    """A `RunStore` kept in IndexedDB by web/run-store.js (`RunStore` there)."""

    def __init__(self, js_store: Any):
        self._js = js_store

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            answer = await self._js.callJson(method, json.dumps(args, ensure_ascii=False))
        except Exception as error:  # a JsException; its name says what happened
            if "RunBusyError" in str(error):
                raise RunBusyError(str(error)) from None
            if str(error).startswith("RunFormatError: "):
                raise RunFormatError(str(error).removeprefix("RunFormatError: ")) from None
            if "RunNotFoundError" in str(error):
                raise  # get_run makes it a KeyError
            raise RunStoreError(str(error)) from None
        return json.loads(answer)

    async def create_run(self, record: RunRecord) -> None:
        await self._call("createRun", asdict(record))

    async def append_step(self, run_id: str, step: dict) -> None:
        await self._call("appendStep", run_id, step)

    async def update_run(self, run_id: str, **fields) -> RunRecord:
        for name in fields:
            if name not in RunRecord.__dataclass_fields__ or name in ("id", "imported"):
                raise ValueError(f"a run has no field {name!r} to update")
        return RunRecord.from_dict(await self._call("updateRun", run_id, fields))

    async def get_run(self, run_id: str) -> RunRecord:
        try:
            return RunRecord.from_dict(await self._call("getRun", run_id))
        except Exception as error:  # a JsException; its name says what happened
            if "RunNotFoundError" in str(error):
                raise KeyError(f"no run {run_id!r} in this browser") from None
            raise

    async def load_steps(self, run_id: str) -> list[dict]:
        return await self._call("loadSteps", run_id)

    async def list_runs(self) -> list[RunRecord]:
        # A damaged record (listed with "damage" for the page to show and delete) is no run to use here.
        return [RunRecord.from_dict(data) for data in await self._call("listRuns") if "damage" not in data]

    async def delete_run(self, run_id: str) -> None:
        await self._call("deleteRun", run_id)

    async def export_run(self, run_id: str) -> dict:
        return await self._call("exportRun", run_id)

    async def import_run(self, data: dict) -> RunRecord:
        return RunRecord.from_dict(await self._call("importRun", data))  # checked, in one transaction there


# -- the agent worker's handlers (routed by web/runs-api.js) ------------------------------

def attach_run_store(session: AgentSession, js_store: Any) -> None:
    """Save `session`'s runs in `js_store` (None: `createAgent({persist: false})`)."""
    session.agent.run_store = IndexedDBRunStore(js_store) if js_store is not None else None


async def run_session(session: AgentSession, task: str | None, emit: Callable[[str], None], reset: bool = True,
                      resume: str | None = None, replay: bool | None = None) -> str:
    """Run `task` (or resume the saved run `resume`, replaying its code or not: see `aresume`);
    the result JSON of `AgentSession.run` plus `runId`, and `saveError` when the run could not be saved."""
    if resume is None:
        result = json.loads(await session.run(task, emit, reset))
    else:
        result = await _resume(session, resume, emit, replay)
    result["runId"] = session.agent.run_id
    if session.agent.save_error:
        result["saveError"] = session.agent.save_error
    return json.dumps(result, default=repr)


async def _resume(session: AgentSession, run_id: str, emit: Callable[[str], None], replay: bool | None) -> dict:
    """Continue a saved run; its steps reach the page as "step" events (no token deltas)."""
    from .browser_agent import event_to_dict

    agent = session.agent
    if agent.run_store is None:
        raise ValueError("this agent does not save runs (createAgent({persist: false})): it cannot resume one")

    def forward(step: Any) -> None:
        data = event_to_dict(step)
        if data is not None:
            emit(json.dumps(data, default=repr))

    step_types = (ActionStep, PlanningStep, FinalAnswerStep)
    for step_type in step_types:
        agent.step_callbacks.register(step_type, forward)
    session.emit = emit  # tool_use events, and the worker finds the running session by it
    started = time.time()
    try:
        output = await agent.aresume(run_id, replay=replay)
        state = agent.last_result.state
        result: dict[str, Any] = {"output": to_wire(output), "state": state}
    except AgentError as error:
        result = {"output": None, "state": "error", "error": error.to_dict()}
    finally:
        session.emit = None
        for step_type in step_types:
            agent.step_callbacks.unregister(step_type, forward)
    usage = agent._total_usage()
    result.update(steps=sum(isinstance(step, ActionStep) for step in agent.memory.steps),
                  tokenUsage={"inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens},
                  duration=time.time() - started)
    return result


async def run_events(js_store: Any, run_id: str) -> str:
    """A saved run as the events a live run streams (task, step, planning, final_answer, result),
    as JSON, so the page shows it with the same chat view."""
    from .browser_agent import event_to_dict

    store = IndexedDBRunStore(js_store)
    record = await store.get_run(run_id)
    steps = await store.load_steps(run_id)
    memory = saved_memory(record, steps)
    events = []
    for step in memory.steps:
        data = {"type": "task", "task": step.task} if isinstance(step, TaskStep) else event_to_dict(step)
        if data is not None:
            events.append(data)
    if memory.steps and isinstance(memory.steps[-1], FinalAnswerStep):  # the run ended: its result too
        usage, rows = totals(steps), timeline(steps)
        events.append({"type": "result", "state": record.status, "output": to_wire(memory.steps[-1].output),
                       "steps": record.steps, "duration": max((r.end for r in rows), default=0.0)
                       - min((r.start for r in rows), default=0.0),
                       "tokenUsage": {"inputTokens": usage["input_tokens"], "outputTokens": usage["output_tokens"]}})
    return json.dumps(events, default=repr)


async def run_timeline(js_store: Any, run_id: str, options_json: str = "{}") -> str:
    """A saved run's timeline rows and totals, as JSON, for web/timeline.js.

    options: `{modelId?, prices?: {inputPerMillion, outputPerMillion}}`.
    """
    options = json.loads(options_json)
    store = IndexedDBRunStore(js_store)
    record, steps = await store.get_run(run_id), await store.load_steps(run_id)
    model_id = record.model_id or options.get("modelId")  # the run's own model; the option for older runs
    rows = [{**asdict(row), "duration": row.duration} for row in timeline(steps, model_id)]
    return json.dumps({"rows": rows, "totals": totals(steps, _prices(options))}, default=repr)


async def export_trace(js_store: Any, run_id: str, options_json: str = "{}") -> str:
    """A saved run as OTLP/JSON (`{"resourceSpans": [...]}`), as JSON text."""
    options = json.loads(options_json)
    store = IndexedDBRunStore(js_store)
    record = await store.get_run(run_id)
    trace = to_otlp(await store.load_steps(run_id), run_id=run_id, title=record.title, status=record.status,
                    model_id=record.model_id or options.get("modelId"), prices=_prices(options))
    return json.dumps(trace)


def _prices(options: dict) -> Prices | None:
    prices = options.get("prices")
    if not prices:
        return None
    return Prices(float(prices["inputPerMillion"]), float(prices["outputPerMillion"]))


__all__ = ["IndexedDBRunStore", "attach_run_store", "export_trace", "run_events", "run_session", "run_timeline"]
