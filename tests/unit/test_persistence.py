import json
from typing import Any

import pytest

from wasm_agent import CodeAgent, ScriptedModel, ToolCallingAgent, tool
from wasm_agent.memory import NoteStep, TaskStep
from wasm_agent.persistence import FileRunStore

pytestmark = pytest.mark.cpython_only  # files on disk; the browser keeps runs in IndexedDB

uses = []


@tool
def record(value: int) -> int:
    """Record a value.

    Args:
        value: The value.
    """
    uses.append(value)
    return value


def code(body):
    return f"Thought: go\n<code>\n{body}\n</code>"


async def test_each_finished_step_is_saved_and_the_run_listed(tmp_path):
    store = FileRunStore(tmp_path)
    agent = CodeAgent([record], ScriptedModel([code("x = record(1)"), code("final_answer(x + 1)")]),
                      executor_type="inprocess", run_store=store)
    assert await agent.arun("Add one\nto the recorded value") == 2
    [run] = await store.list_runs()
    assert (run.id, run.title, run.status, run.steps) == (agent.run_id, "Add one", "success", 2)
    saved = await store.load_steps(run.id)
    assert [s["type"] for s in saved] == ["task", "action", "action", "final_answer"]
    assert saved == agent.memory.get_full_steps()


async def test_a_crashed_run_resumes_from_its_last_finished_step_without_repeating(tmp_path):
    uses.clear()
    store = FileRunStore(tmp_path)

    def provider_down(messages):
        raise ConnectionError("offline")

    first = CodeAgent([record], ScriptedModel([code("a = record(10)"), code("b = record(20)"), provider_down]),
                      executor_type="inprocess", run_store=store)
    with pytest.raises(Exception, match="offline"):
        await first.arun("Record two values then add them")
    run = await store.get_run(first.run_id)
    assert (run.status, run.steps) == ("error", 3)

    model = ScriptedModel([code("final_answer(a + b)")])  # the variables of steps 1 and 2
    second = CodeAgent([record], model, executor_type="inprocess", run_store=store)
    assert await second.aresume(first.run_id) == 30
    assert uses == [10, 20]  # replaying steps 1 and 2 answered record() from the saved outputs
    sent = [m.content for m in model.calls[0]["messages"]]
    assert sent[1] == "New task:\nRecord two values then add them"
    assert "resumed" in sent[-1] and "run again to restore" in sent[-1]
    assert any(isinstance(step, NoteStep) for step in second.memory.steps)
    assert [s.step_number for s in second.memory.action_steps] == [1, 2, 3, 4]
    run = await store.get_run(first.run_id)
    assert (run.status, run.steps) == ("success", 4)
    assert len(await store.list_runs()) == 1


async def test_resuming_a_finished_run_returns_its_answer(tmp_path):
    store = FileRunStore(tmp_path)
    agent = ToolCallingAgent([], ScriptedModel(['{"name": "final_answer", "arguments": {"answer": "hi"}}']),
                             run_store=store)
    await agent.arun("Greet")
    again = ToolCallingAgent([], ScriptedModel([]), run_store=store)
    assert await again.aresume(agent.run_id) == "hi"


async def test_export_import_round_trip_and_delete(tmp_path):
    store = FileRunStore(tmp_path / "a")
    agent = CodeAgent([], ScriptedModel([code("final_answer('x')")]), executor_type="inprocess", run_store=store)
    await agent.arun("Task")
    exported = json.loads(json.dumps(await store.export_run(agent.run_id)))
    other = FileRunStore(tmp_path / "b")
    imported = await other.import_run(exported)
    assert imported.id == agent.run_id and imported.status == "success"
    assert await other.load_steps(imported.id) == await store.load_steps(agent.run_id)
    await store.update_run(agent.run_id, title="Renamed")
    assert (await store.get_run(agent.run_id)).title == "Renamed"
    await store.delete_run(agent.run_id)
    assert await store.list_runs() == []
    with pytest.raises(ValueError, match="format"):
        await other.import_run({"run": {}})


async def test_a_step_line_cut_by_a_crash_is_ignored(tmp_path):
    store = FileRunStore(tmp_path)
    agent = CodeAgent([], ScriptedModel([code("x = 1"), code("final_answer(x)")]), executor_type="inprocess",
                      run_store=store)
    await agent.arun("Task")
    path = tmp_path / agent.run_id / "steps.jsonl"
    path.write_text(path.read_text() + '{"type": "action", "step_num')
    steps = await store.load_steps(agent.run_id)
    assert len(steps) == 4 and steps[0] == TaskStep(task="Task").to_dict()


async def test_run_ids_cannot_escape_the_store(tmp_path):
    store = FileRunStore(tmp_path)
    with pytest.raises(ValueError, match="invalid run id"):
        await store.get_run("../etc")


async def test_steps_with_unicode_line_separators_survive_a_reload(tmp_path):
    store = FileRunStore(tmp_path)
    text = "para\u2028graph\u2029end\x85next\u000bvt"
    agent = CodeAgent([], ScriptedModel([code(f"x = {text!r}"), code("final_answer(x)")]), executor_type="inprocess",
                      run_store=store)
    assert await agent.arun("Keep odd separators") == text
    steps = await store.load_steps(agent.run_id)
    assert len(steps) == 4 and steps[-1]["output"] == text


@tool
def make_set(n: int) -> Any:
    """A set of the first numbers (not JSON: it cannot be replayed exactly).

    Args:
        n: How many.
    """
    return set(range(n))


async def test_steps_that_cannot_be_replayed_are_reported_lost(tmp_path):
    store = FileRunStore(tmp_path)

    def provider_down(messages):
        raise ConnectionError("offline")

    first = CodeAgent([record, make_set], ScriptedModel([code("a = record(1)"), code("s = make_set(3)"), code("c = 3"),
                                                         provider_down]),
                      executor_type="inprocess", run_store=store)
    with pytest.raises(Exception, match="offline"):
        await first.arun("Build things")
    saved = [s for s in await store.load_steps(first.run_id) if s["type"] == "action"]
    assert saved[1]["code_tool_calls"][0]["json"] is False
    model = ScriptedModel([code("final_answer(a)")])
    second = CodeAgent([record, make_set], model, executor_type="inprocess", run_store=store)
    assert await second.aresume(first.run_id) == 1  # step 1 was rebuilt
    note = model.calls[0]["messages"][-1].content
    assert "step 2 and later are gone" in note
    agent_state = second.executor.runner.namespace
    assert "s" not in agent_state and "c" not in agent_state
