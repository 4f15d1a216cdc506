import json
import shutil
from typing import Any

import pytest

from wasm_agent import CodeAgent, ScriptedModel, ToolCallingAgent, tool
from wasm_agent.memory import NoteStep, TaskStep
from wasm_agent.persistence import FileRunStore
from wasm_agent.run_format import RunFormatError

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
    assert saved == [*agent.memory.get_full_steps(), {"type": "final_answer", "output": 2}]  # the answer: saved only


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
    sent = [m.text for m in model.calls[0]["messages"]]
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
    note = model.calls[0]["messages"][-1].text
    assert "step 2 and later are gone" in note
    agent_state = second.executor.runner.namespace
    assert "s" not in agent_state and "c" not in agent_state


# -- imported runs are untrusted input ---------------------------------------------------

# Code a run file could hold: it plants a variable, and a `greet` function that calls a tool with the file's own arguments.
PLANTED = 'secret = "planted by the file"\ndef greet(*args):\n    record(99)'
# The resumed run's own code: it greets (the trap, if planted) and answers with what it finds.
LOOK = 'try:\n    greet("hello")\nexcept NameError:\n    pass\ntry:\n    found = secret\nexcept NameError:\n    found = "absent"\nfinal_answer(found)'


def provider_down(messages):
    raise ConnectionError("offline")


async def stopped_run_export(folder) -> dict:
    """A run that ran PLANTED in step 1 and stopped, exported as a file would carry it."""
    store = FileRunStore(folder)
    agent = CodeAgent([record], ScriptedModel([code(PLANTED), provider_down]), executor_type="inprocess",
                      run_store=store)
    with pytest.raises(Exception, match="offline"):
        await agent.arun("Do something")
    return json.loads(json.dumps(await store.export_run(agent.run_id)))


async def test_an_imported_run_is_not_replayed_until_the_user_agrees(tmp_path):
    exported = await stopped_run_export(tmp_path / "elsewhere")
    store = FileRunStore(tmp_path / "here")
    imported = await store.import_run(exported)
    assert imported.imported is True and imported.status == "error"
    uses.clear()
    model = ScriptedModel([code(LOOK)])
    agent = CodeAgent([record], model, executor_type="inprocess", run_store=store)
    assert await agent.aresume(imported.id) == "absent"  # the file's code did not run
    assert uses == []  # and its trap did not call the tool
    told = model.calls[0]["messages"][-1].text
    assert "not run again" in told and "imported" in told and "not defined" in told
    assert (await store.get_run(imported.id)).imported is True  # resuming does not launder it
    with pytest.raises(ValueError, match="no field 'imported'"):
        await store.update_run(imported.id, imported=False)  # nor can an update

    again = await FileRunStore(tmp_path / "agreed").import_run(exported)
    agent = CodeAgent([record], ScriptedModel([code(LOOK)]), executor_type="inprocess",
                      run_store=FileRunStore(tmp_path / "agreed"))
    assert await agent.aresume(again.id, replay=True) == "planted by the file"  # the user agreed: it ran
    assert uses == [99]


async def test_a_run_folder_copied_from_elsewhere_counts_as_imported(tmp_path):
    exported = await stopped_run_export(tmp_path / "mine")
    run_id = exported["run"]["id"]
    mine = FileRunStore(tmp_path / "mine")
    assert (await mine.get_run(run_id)).imported is False  # made here: replayed as before
    (tmp_path / "theirs").mkdir()
    shutil.copytree(tmp_path / "mine" / run_id, tmp_path / "theirs" / run_id)  # seal and all, key left behind
    record_text = (tmp_path / "theirs" / run_id / "run.json").read_text()
    assert json.loads(record_text)["imported"] is False  # the file even claims to be local
    theirs = FileRunStore(tmp_path / "theirs")
    assert (await theirs.get_run(run_id)).imported is True
    uses.clear()
    agent = CodeAgent([record], ScriptedModel([code(LOOK)]), executor_type="inprocess", run_store=theirs)
    assert await agent.aresume(run_id) == "absent" and uses == []
    agent = CodeAgent([record], ScriptedModel([code(LOOK)]), executor_type="inprocess", run_store=mine)
    assert await agent.aresume(run_id) == "planted by the file" and uses == [99]  # a run made here: as today


@pytest.mark.parametrize(("field", "value", "message"), [
    ("steps[1].timing.start_time", "abc", 'steps[1].timing.start_time: expected a finite number, got "abc"'),
    ("run.updated_at", None, "run.updated_at: expected a finite number, got null"),
    ("run.steps", "2", 'run.steps: expected a whole number ≥ 0, got "2"'),
    ("steps[1].code_action", {"evil": True}, "steps[1].code_action: expected a string, got an object"),
    ("run.id", "../../x", 'run.id: expected a run id (1 to 128 letters, digits, - or _), got "../../x"'),
])
async def test_a_malformed_import_is_refused_naming_the_field_and_stores_nothing(tmp_path, field, value, message):
    exported = await stopped_run_export(tmp_path / "elsewhere")
    target, keys = exported, field.replace("[", ".").replace("]", "").split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[keys[-1]] = value
    store = FileRunStore(tmp_path / "here")
    with pytest.raises(RunFormatError) as refused:
        await store.import_run(exported)
    assert str(refused.value) == message
    assert await store.list_runs() == [] and not (tmp_path / "here").exists()


async def test_a_damaged_run_folder_is_named_and_does_not_hide_the_others(tmp_path):
    store = FileRunStore(tmp_path)
    agent = CodeAgent([], ScriptedModel([code("final_answer(1)")]), executor_type="inprocess", run_store=store)
    await agent.arun("Good run")
    bad = tmp_path / "bad-run"
    bad.mkdir()
    (bad / "run.json").write_text(json.dumps({"id": "bad-run", "title": "Bad", "updated_at": "yesterday"}))
    with pytest.warns(UserWarning, match="updated_at: expected a finite number"):
        assert [run.title for run in await store.list_runs()] == ["Good run"]
    with pytest.raises(RunFormatError, match="'bad-run'.*damaged.*updated_at"):
        await store.get_run("bad-run")
    await store.delete_run("bad-run")
    assert not bad.exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("step_number", "2", 'steps[1].step_number: expected a whole number ≥ 0, got "2"'),
    ("timing", {"start_time": "abc"}, 'steps[1].timing.start_time: expected a finite number, got "abc"'),
    ("tool_calls", "x", 'steps[1].tool_calls: expected a list, got "x"'),
    ("code_action", {"evil": True}, "steps[1].code_action: expected a string, got an object"),
    ("type", "spell", "steps[1].type: expected one of task, action, planning, note, final_answer, got \"spell\""),
])
async def test_a_damaged_stored_step_is_refused_on_resume_naming_the_field(tmp_path, field, value, message):
    """A step written to the store by other code (or a copied file edited by hand) has a field of the wrong type:
    resuming says which field, loses nothing, and the same agent runs a new task afterwards."""
    store = FileRunStore(tmp_path)
    first = CodeAgent([record], ScriptedModel([code("a = record(1)"), provider_down]), executor_type="inprocess",
                      run_store=store)
    with pytest.raises(Exception, match="offline"):
        await first.arun("Record a value")
    steps_file = tmp_path / first.run_id / "steps.jsonl"
    steps = [json.loads(line) for line in steps_file.read_text().splitlines()]
    steps[1][field] = value
    steps_file.write_text("".join(json.dumps(step) + "\n" for step in steps))
    agent = CodeAgent([record], ScriptedModel([code("final_answer(2)")]), executor_type="inprocess", run_store=store)
    with pytest.raises(RunFormatError) as refused:
        await agent.aresume(first.run_id)
    assert str(refused.value) == f"run {first.run_id!r} has a damaged step: {message}"
    assert len(await store.load_steps(first.run_id)) == len(steps)  # nothing lost: the user can export or delete it
    assert await agent.arun("Answer two") == 2


# -- a store write that fails ------------------------------------------------------------

class FullDisk(FileRunStore):
    """Appends fail once `room` steps are written (the disk is full); with `stuck`, record updates too."""

    def __init__(self, directory, room: int, stuck: bool = False):
        super().__init__(directory)
        self.room, self.stuck = room, stuck

    async def append_step(self, run_id, step):
        if self.room <= 0:
            raise OSError(28, "No space left on device")
        self.room -= 1
        await super().append_step(run_id, step)

    async def update_run(self, run_id, **fields):
        if self.stuck and self.room <= 0:
            raise OSError(28, "No space left on device")
        return await super().update_run(run_id, **fields)


@pytest.mark.parametrize("stuck", [False, True])
async def test_a_failed_store_write_ends_the_run_unsaved_with_its_answer(tmp_path, stuck):
    earlier = CodeAgent([], ScriptedModel([code("final_answer('earlier')")]), executor_type="inprocess",
                        run_store=FileRunStore(tmp_path))
    await earlier.arun("Earlier run")
    before = await FileRunStore(tmp_path).export_run(earlier.run_id)

    store = FullDisk(tmp_path, room=2, stuck=stuck)  # the task and step 1 fit, step 2 does not
    agent = CodeAgent([], ScriptedModel([code("x = 20"), code("y = x + 1"), code("final_answer(y * 2)"),
                                      code("final_answer('saved')")]),
                      executor_type="inprocess", run_store=store)
    result = await agent.arun("Fill the disk", return_full_result=True)
    assert (result.output, result.state) == (42, "success")  # the answer still comes
    assert result.save_error == "OSError: [Errno 28] No space left on device"
    saved = await FileRunStore(tmp_path).get_run(agent.run_id)
    assert saved.status == ("running" if stuck else "error")  # marked failed, when the store still lets us
    assert [s["type"] for s in await FileRunStore(tmp_path).load_steps(agent.run_id)] == ["task", "action"]
    assert await FileRunStore(tmp_path).export_run(earlier.run_id) == before  # earlier runs intact

    store.room = 10  # the next run is saved again
    again = await agent.arun("Again", return_full_result=True)
    assert (again.output, again.save_error) == ("saved", None)
    assert (await FileRunStore(tmp_path).get_run(agent.run_id)).status == "success"


async def test_a_local_run_resumed_with_replay_false_starts_clean_and_says_so(tmp_path):
    await stopped_run_export(tmp_path)  # made here, so it would be replayed by default
    [run] = await FileRunStore(tmp_path).list_runs()
    assert run.imported is False
    uses.clear()
    model = ScriptedModel([code(LOOK)])
    agent = CodeAgent([record], model, executor_type="inprocess", run_store=FileRunStore(tmp_path))
    assert await agent.aresume(run.id, replay=False) == "absent" and uses == []
    told = model.calls[0]["messages"][-1].text
    assert "the user chose not to run it again" in told and "that step 1 defined are not defined now" in told


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("where", ["steps[1]", "run", "(the file)"])
async def test_an_import_nested_too_deep_anywhere_is_refused_and_stores_nothing(tmp_path, where):
    """Fields no check names (an extra field of a step, of the record, of the file) are stored too: nested
    thousands deep, they would make every later read of the store fail. Refused like any malformed field."""
    exported = await stopped_run_export(tmp_path / "elsewhere")
    target = {"steps[1]": exported["steps"][1], "run": exported["run"], "(the file)": exported}[where]
    target["extra"] = _nested(5000)
    store = FileRunStore(tmp_path / "here")
    with pytest.raises(RunFormatError, match=r"^(steps|run|\(the file\)).*expected values nested at most \d+ deep"):
        await store.import_run(exported)
    assert await store.list_runs() == [] and not (tmp_path / "here").exists()


async def test_a_run_folder_nested_too_deep_to_read_is_named_and_hides_nothing(tmp_path):
    store = FileRunStore(tmp_path)
    first = CodeAgent([record], ScriptedModel([code("a = record(1)"), provider_down]), executor_type="inprocess",
                      run_store=store)
    with pytest.raises(Exception, match="offline"):
        await first.arun("Good run")
    bad = tmp_path / "deep-run"
    bad.mkdir()
    (bad / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.warns(UserWarning, match="'deep-run'.*damaged"):
        assert [run.title for run in await store.list_runs()] == ["Good run"]
    with pytest.raises(RunFormatError, match="'deep-run'.*damaged"):
        await store.get_run("deep-run")
    await store.delete_run("deep-run")
    with open(tmp_path / first.run_id / "steps.jsonl", "a") as steps:
        steps.write(json.dumps({"type": "note", "text": "x", "extra": "DEEP"}).replace('"DEEP"', "[" * 100_000 + "]" * 100_000) + "\n")
    agent = CodeAgent([record], ScriptedModel([code("final_answer(2)")]), executor_type="inprocess", run_store=store)
    with pytest.raises(RunFormatError, match="nested too deep"):
        await agent.aresume(first.run_id)
    assert await agent.arun("Answer two") == 2
