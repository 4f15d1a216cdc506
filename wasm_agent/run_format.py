"""The saved-run format (`wasm-agent-run/1`), checked field by field before a run is imported.

An exported run comes from elsewhere: it is checked like any untrusted input
before it reaches a store. Each rule below names the field, and a refusal says
which value broke which rule:

>>> check_export({"format": "wasm-agent-run/1", "run": {"id": "a"},
...               "steps": [{"type": "task", "task": "hi"}, {"type": "action", "timing": {"start_time": "abc"}}]})
Traceback (most recent call last):
...
wasm_agent.run_format.RunFormatError: steps[1].timing.start_time: expected a finite number, got "abc"

web/run-format.js is the same check for the page (which imports runs before
Python has loaded); both give the same message for the same input, and
tests/unit/test_run_format.py holds them to it. Change both together.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

EXPORT_FORMAT = "wasm-agent-run/1"
STATUSES = ("running", "interrupted", "success", "max_steps_error", "error")
STEP_TYPES = ("task", "action", "planning", "note", "final_answer")
MAX_STEPS = 10_000
MAX_TEXT = 5_000_000  # characters in one string (a prompt, an observation, code)
MAX_DEPTH = 64  # nesting of free-form values (tool arguments, outputs)
MAX_FILE_DEPTH = MAX_DEPTH + 8  # of a whole file, record or list of steps, fields no check names included
MAX_EXPORT_CHARS = 50_000_000  # the whole run as compact JSON
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
# The record's fields (unknown fields are dropped on import).
RECORD_FIELDS = ("id", "title", "status", "steps", "created_at", "updated_at", "system_prompt", "examples", "imported",
                 "model_id")


class RunFormatError(ValueError):
    """A saved run that is not in the format; the message names the field."""


def check_export(data: Any) -> None:
    """Refuse `data` unless it is a whole exported run: `{format, run, steps}`."""
    if not isinstance(data, dict):
        _fail("(the file)", "an exported run (an object)", data)
    if data.get("format") != EXPORT_FORMAT:
        raise RunFormatError(f"format: expected \"{EXPORT_FORMAT}\" (an exported wasm-agent run), "
                             f"got {describe(data.get('format'))}")
    check_record(data.get("run"), "run")
    check_steps(data.get("steps"))
    _shallow(data, "(the file)")
    # Last: the whole file is known to be shallow now, so measuring it cannot recurse too deep.
    if len(json.dumps(data, ensure_ascii=False, separators=(",", ":"))) > MAX_EXPORT_CHARS:
        raise RunFormatError(f"(the file): expected at most {MAX_EXPORT_CHARS} characters of JSON")


def check_record(record: Any, path: str = "run") -> None:
    """Refuse a run record (`RunRecord` as a dict) with a field of the wrong type."""
    if not isinstance(record, dict):
        _fail(path, "a run record (an object)", record)
    run_id = record.get("id")
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        _fail(f"{path}.id", "a run id (1 to 128 letters, digits, - or _)", run_id)
    _optional(record, path, "title", _text)
    if "status" in record and record["status"] not in STATUSES:
        _fail(f"{path}.status", "one of " + ", ".join(STATUSES), record["status"])
    _optional(record, path, "steps", _count)
    _optional(record, path, "created_at", _time)
    _optional(record, path, "updated_at", _time)
    _optional(record, path, "system_prompt", _text)
    _optional(record, path, "examples", _nullable(_list_of(_free)))
    _optional(record, path, "imported", _flag)
    _optional(record, path, "model_id", _nullable(_text))
    _shallow(record, path)


def check_steps(steps: Any, path: str = "steps") -> None:
    """Refuse a run's saved steps (a list of `MemoryStep.to_dict()`) unless each has fields of the right shape."""
    _list_of(check_step, "a list of steps", "steps")(steps, path)
    _shallow(steps, path)


def check_step(step: Any, path: str) -> None:
    """Refuse a saved step (`MemoryStep.to_dict()`) whose fields have the wrong shape."""
    if not isinstance(step, dict):
        _fail(path, "a step (an object)", step)
    kind = step.get("type")
    if kind not in STEP_TYPES:
        _fail(f"{path}.type", "one of " + ", ".join(STEP_TYPES), kind)
    for name, check in _STEP_FIELDS[kind]:
        _optional(step, path, name, check)


# -- the checks: each takes (value, path) and raises RunFormatError ---------------------

def _text(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, "a string", value)
    if len(value) > MAX_TEXT:
        raise RunFormatError(f"{path}: expected at most {MAX_TEXT} characters, got {len(value)}")


def _flag(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _fail(path, "true or false", value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _time(value: Any, path: str) -> None:
    if not _is_number(value) or not math.isfinite(value):
        _fail(path, "a finite number", value)


def _count(value: Any, path: str) -> None:
    if not _is_number(value) or not math.isfinite(value) or value != int(value) or value < 0:
        _fail(path, "a whole number ≥ 0", value)


def _free(value: Any, path: str) -> None:
    """Any JSON value, nested at most MAX_DEPTH deep, with no string over MAX_TEXT (iterative: no recursion)."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise RunFormatError(f"{path}: expected values nested at most {MAX_DEPTH} deep")
        if isinstance(item, str):
            _text(item, path)
        elif isinstance(item, float) and not math.isfinite(item):
            _fail(path, "JSON values (finite numbers)", item)
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())


def _shallow(value: Any, path: str) -> None:
    """Nested at most MAX_FILE_DEPTH deep, fields no check names included (they are stored too, and every later
    read of a value nested thousands deep would fail). Iterative: no recursion."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_FILE_DEPTH:
            raise RunFormatError(f"{path}: expected values nested at most {MAX_FILE_DEPTH} deep")
        if isinstance(item, (list, dict)):
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def _nullable(check):
    def nullable(value: Any, path: str) -> None:
        if value is not None:
            check(value, path)
    return nullable


def _list_of(check, expected: str = "a list", items: str = "items"):
    def list_of(value: Any, path: str) -> None:
        if not isinstance(value, list):
            _fail(path, expected, value)
        if len(value) > MAX_STEPS:
            raise RunFormatError(f"{path}: expected at most {MAX_STEPS} {items}, got {len(value)}")
        for index, item in enumerate(value):
            check(item, f"{path}[{index}]")
    return list_of


def _object_of(fields: list[tuple[str, Any]], required: tuple[str, ...] = ()):
    def object_of(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            _fail(path, "an object", value)
        for name in required:
            if name not in value:
                raise RunFormatError(f"{path}.{name}: missing")
        for name, check in fields:
            _optional(value, path, name, check)
    return object_of


def _optional(data: dict, path: str, name: str, check) -> None:
    if name in data:
        check(data[name], f"{path}.{name}")


_nullable_text = _nullable(_text)
_nullable_time = _nullable(_time)
_timing = _object_of([("start_time", _time), ("end_time", _nullable_time), ("duration", _nullable_time)])
_usage = _nullable(_object_of([("input_tokens", _count), ("output_tokens", _count), ("total_tokens", _count)]))
_tool_call = _object_of([("name", _text), ("id", _text), ("arguments", _free), ("observation", _nullable_text),
                         ("timing", _nullable(_timing))], required=("name", "id"))
_code_tool_call = _object_of([("name", _text), ("arguments", _free), ("output", _free), ("json", _flag)],
                             required=("name",))
_message = _object_of([("role", _text), ("content", _free), ("tool_calls", _nullable(_list_of(_free))),
                       ("token_usage", _usage), ("tool_call_id", _nullable_text), ("name", _nullable_text)],
                      required=("role",))
_error = _object_of([("type", _text), ("message", _text)])
_STEP_FIELDS = {
    "task": [("task", _text)],
    "action": [("step_number", _count), ("timing", _timing), ("model_timing", _nullable(_timing)),
               ("tool_calls", _nullable(_list_of(_tool_call))), ("native_tool_calls", _flag),
               ("error", _nullable(_error)), ("model_output_message", _nullable(_message)),
               ("model_output", _nullable_text), ("code_action", _nullable_text),
               ("code_tool_calls", _nullable(_list_of(_code_tool_call))), ("observations", _nullable_text),
               ("action_output", _free), ("token_usage", _usage), ("is_final_answer", _flag)],
    "planning": [("plan", _text), ("timing", _timing), ("token_usage", _usage)],
    "note": [("text", _text)],
    "final_answer": [("output", _free)],
}


def _fail(path: str, expected: str, value: Any):
    raise RunFormatError(f"{path}: expected {expected}, got {describe(value)}")


def describe(value: Any) -> str:
    """A short, language-neutral account of a value (the same text as web/run-format.js's `describe`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value == int(value) and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        text = json.dumps(value[:40], ensure_ascii=False)
        return text[:-1] + '…"' if len(value) > 40 else text
    if isinstance(value, list):
        return "a list"
    return "an object"
