"""An exported run is checked field by field, with the same words in Python and in the page.

wasm_agent/run_format.py (CPython's FileRunStore, the agent worker) and web/run-format.js
(the page, which imports runs before Python has loaded) are two copies of one check: each
case below goes through both, and both must refuse it with the same message (or accept it).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from wasm_agent.run_format import MAX_DEPTH, MAX_FILE_DEPTH, RunFormatError, check_export

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "format": "wasm-agent-run/1",
    "run": {"id": "good-run", "title": "A run", "status": "error", "steps": 1, "created_at": 1.7e9,
            "updated_at": 1.7e9 + 3.5, "system_prompt": "Be brief.", "examples": None, "imported": False},
    "steps": [
        {"type": "task", "task": "Add things"},
        {"type": "action", "step_number": 1,
         "timing": {"start_time": 1.7e9, "end_time": 1.7e9 + 1, "duration": 1.0},
         "model_timing": None,
         "tool_calls": [{"name": "python_interpreter", "arguments": "x = 1", "id": "call_1", "observation": None,
                         "timing": {"start_time": 1.7e9, "end_time": None, "duration": None}}],
         "native_tool_calls": False, "error": None,
         "model_output_message": {"role": "assistant", "content": "<code>x = 1</code>"},
         "model_output": "<code>x = 1</code>", "code_action": "x = 1",
         "code_tool_calls": [{"name": "record", "arguments": {"value": 1}, "output": 1, "json": True}],
         "observations": "", "action_output": None, "token_usage": {"input_tokens": 3, "output_tokens": 4},
         "is_final_answer": False},
        {"type": "planning", "plan": "Go on", "timing": {"start_time": 1.7e9}},
        {"type": "note", "text": "resumed"},
        {"type": "final_answer", "output": {"deep": [1, 2, "three"]}},
    ],
}


def broken(path: str, value) -> dict:
    """GOOD with the field at `path` (dotted, [n] for list items) set to `value`."""
    data = copy.deepcopy(GOOD)
    target, keys = data, path.replace("[", ".").replace("]", "").split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


def nested(depth: int):
    value = "bottom"
    for _ in range(depth):
        value = [value]
    return value


CASES = [
    (GOOD, None),
    (broken("steps[1].timing.start_time", "abc"), 'steps[1].timing.start_time: expected a finite number, got "abc"'),
    (broken("steps[1].timing.end_time", True), "steps[1].timing.end_time: expected a finite number, got true"),
    (broken("run.updated_at", None), "run.updated_at: expected a finite number, got null"),
    (broken("run.created_at", "2024-01-01T00:00:00Z and then some text that goes on and on"),
     'run.created_at: expected a finite number, got "2024-01-01T00:00:00Z and then some text …"'),
    (broken("run.steps", 1.5), "run.steps: expected a whole number ≥ 0, got 1.5"),
    (broken("run.steps", -1), "run.steps: expected a whole number ≥ 0, got -1"),
    (broken("run.title", 5), "run.title: expected a string, got 5"),
    (broken("run.status", "pwned"),
     'run.status: expected one of running, interrupted, success, max_steps_error, error, got "pwned"'),
    (broken("run.id", "../../etc"), 'run.id: expected a run id (1 to 128 letters, digits, - or _), got "../../etc"'),
    (broken("run.imported", "no"), 'run.imported: expected true or false, got "no"'),
    (broken("run.examples", {"a": 1}), "run.examples: expected a list, got an object"),
    (broken("run", []), "run: expected a run record (an object), got a list"),
    (broken("steps", {"0": {}}), "steps: expected a list of steps, got an object"),
    (broken("steps[0]", "task"), 'steps[0]: expected a step (an object), got "task"'),
    (broken("steps[0].type", "exec"),
     'steps[0].type: expected one of task, action, planning, note, final_answer, got "exec"'),
    (broken("steps[1].code_action", ["print(1)"]), "steps[1].code_action: expected a string, got a list"),
    (broken("steps[1].tool_calls[0].name", None), "steps[1].tool_calls[0].name: expected a string, got null"),
    (broken("steps[1].tool_calls[0]", {"id": "x"}), "steps[1].tool_calls[0].name: missing"),
    (broken("steps[1].code_tool_calls[0].json", "yes"),
     'steps[1].code_tool_calls[0].json: expected true or false, got "yes"'),
    (broken("steps[1].token_usage", {"input_tokens": "3"}),
     'steps[1].token_usage.input_tokens: expected a whole number ≥ 0, got "3"'),
    (broken("steps[1].model_output_message", {"content": "hi"}), "steps[1].model_output_message.role: missing"),
    (broken("steps[2].plan", None), "steps[2].plan: expected a string, got null"),
    (broken("steps[4].output", nested(MAX_DEPTH + 5)),
     f"steps[4].output: expected values nested at most {MAX_DEPTH} deep"),
    # Fields no check names are stored too: nested deep, they would fail every later read of the store.
    (broken("steps[1].extra", nested(500)), f"steps: expected values nested at most {MAX_FILE_DEPTH} deep"),
    (broken("run.extra", nested(500)), f"run: expected values nested at most {MAX_FILE_DEPTH} deep"),
    ({**GOOD, "extra": nested(500)}, f"(the file): expected values nested at most {MAX_FILE_DEPTH} deep"),
    (broken("format", "wasm-agent-run/2"),
     'format: expected "wasm-agent-run/1" (an exported wasm-agent run), got "wasm-agent-run/2"'),
    ("not a run", '(the file): expected an exported run (an object), got "not a run"'),
    ({**GOOD, "steps": [{"type": "task"}] * 10_001}, "steps: expected at most 10000 steps, got 10001"),
    (broken("steps[0].task", "a" * 5_000_001), "steps[0].task: expected at most 5000000 characters, got 5000001"),
    ({**GOOD, "steps": [{"type": "task", "task": "a" * 4_900_000}] * 11},
     "(the file): expected at most 50000000 characters of JSON"),
]


def python_verdict(data) -> str | None:
    try:
        check_export(data)
    except RunFormatError as error:
        return str(error)
    return None


def test_python_refuses_each_malformed_run_naming_the_field():
    for data, message in CASES:
        assert python_verdict(data) == message


@pytest.mark.cpython_only  # runs web/run-format.js under Node
def test_the_page_gives_the_same_verdict_as_python():
    node = shutil.which("node")
    assert node, "Node is part of setup.sh"
    script = """
        import { checkExport } from "./web/run-format.js";
        let input = "";
        process.stdin.on("data", (chunk) => { input += chunk; });
        process.stdin.on("end", () => {
          const verdicts = JSON.parse(input).map((data) => {
            try { checkExport(data); return null; } catch (error) { return `${error.name}: ${error.message}`; }
          });
          process.stdout.write(JSON.stringify(verdicts));
        });
    """
    done = subprocess.run([node, "--input-type=module", "-e", script], cwd=REPO, capture_output=True, text=True,
                          input=json.dumps([data for data, _ in CASES]), timeout=60, check=True)
    page = json.loads(done.stdout)
    assert page == [None if message is None else f"RunFormatError: {message}" for _, message in CASES]
