"""The sandbox wire protocol: values, messages, pending requests, and the JS twin."""

import json
import math
import re
import subprocess
from pathlib import Path

import pytest

from wasm_agent.executor.protocol import (
    HOST_REPLIES,
    HOST_REQUESTS,
    MAX_MESSAGE_CHARS,
    MESSAGE_FIELDS,
    MESSAGE_TYPES,
    PendingRequests,
    ProtocolError,
    RemoteValue,
    RequestTimeoutError,
    SandboxDiedError,
    decode,
    encode,
    from_wire,
    reply,
    request,
    to_wire,
)

REPO = Path(__file__).resolve().parents[2]


def test_json_values_cross_unchanged():
    value = {"a": [1, 2.5, "x", None, True], "b": {"c": []}}
    assert from_wire(to_wire(value)) == value
    assert to_wire((1, 2)) == [1, 2]


def _through_javascript(data):
    """What JSON.parse then JSON.stringify does to wire data: a float with an integral value is a
    JS number like any other, and comes back without its decimal point."""
    return json.loads(json.dumps(data), parse_float=lambda text: int(float(text)) if float(text).is_integer()
                      else float(text))


def test_exact_wire_data_keeps_floats_and_tuples_through_javascript():
    value = {"half": 5.0, "big": 1e20, "pair": (1, 2.0), "nested": [(3.0,)], "keys": {"$float": 1}}
    plain = from_wire(_through_javascript(to_wire(value)))
    assert plain["half"] == 5 and type(plain["half"]) is int  # what plain JSON through JS gives
    exact = from_wire(_through_javascript(to_wire(value, exact=True)))
    assert exact["half"] == 5.0 and type(exact["half"]) is float
    assert type(exact["big"]) is float and exact["big"] == 1e20
    assert exact["pair"] == (1, 2.0) and type(exact["pair"][1]) is float
    assert exact["nested"] == [(3.0,)]
    assert exact["keys"] == {"$float": 1}  # a dict that looks like a marker is not taken for one


@pytest.mark.parametrize("value, type_name", [
    ({1, 2}, "set"), (b"raw", "bytes"), (math.nan, "float"), (2 ** 60, "int"), ({1: "a"}, "dict"), (object, "type"),
])
def test_other_values_cross_as_their_repr_with_a_note(value, type_name):
    wire = to_wire({"v": value})
    encode({"type": "log", "text": wire})  # always valid JSON, no NaN
    remote = from_wire(wire)["v"]
    assert isinstance(remote, RemoteValue) and remote.type_name == type_name
    assert repr(remote) == repr(value) and "JSON-compatible" in remote.note


def test_a_broken_or_huge_repr_does_not_break_the_protocol():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    assert "repr() failed" in to_wire(Broken())["$repr"]
    assert len(to_wire(["x" * 300_000, {b"y" * 300_000}])[1]["$repr"]) < 101_000


def test_messages_are_checked_both_ways():
    message = request("run", 1, code="print(1)")
    assert decode(encode(message)) == message
    assert "\n" not in encode({"type": "log", "text": "a\nb"})
    for bad in ["nope", "[]", '{"type": "format_disk"}', '{"type": "run", "id": "1"}']:
        with pytest.raises(ProtocolError):
            decode(bad)
    with pytest.raises(ProtocolError):
        encode({"type": "log", "text": "x" * MAX_MESSAGE_CHARS})
    with pytest.raises(ProtocolError):
        request("result", 1)
    assert reply(3, error={"type": "E", "message": "m"})["ok"] is False


async def test_pending_requests_time_out_resolve_and_die_together():
    pending = PendingRequests()
    id, future = pending.open()
    with pytest.raises(RequestTimeoutError):
        await pending.wait(id, future, 0.01)
    assert not pending.resolve({"type": "result", "id": id + 1})
    assert pending.resolve({"type": "result", "id": id, "ok": True})
    assert (await pending.wait(id, future, 1))["ok"] is True
    waiting = [pending.open() for _ in range(3)]
    pending.reject_all(SandboxDiedError("gone"))
    for id, future in waiting:
        with pytest.raises(SandboxDiedError):
            await pending.wait(id, future, 1)
    assert len(pending) == 0


def test_the_js_twin_lists_the_same_message_types():
    source = (REPO / "web" / "protocol.js").read_text()
    listed = re.search(r"MESSAGE_TYPES = Object\.freeze\(\[(.*?)\]\)", source, re.DOTALL).group(1)
    assert tuple(re.findall(r'"(\w+)"', listed)) == MESSAGE_TYPES


def _deno_test(path: str) -> subprocess.CompletedProcess:
    """`deno test` of one of our JS test files, reading only web/, deno/ and tests/js/."""
    sandbox = pytest.importorskip("wasm_agent.executor.sandbox")
    deno = sandbox.find_deno()
    if deno is None:
        pytest.skip("Deno is not installed")
    run = subprocess.run([deno, "test", "--no-prompt", "--no-config", "--no-lock", "--allow-read=web,deno,tests/js",
                          path], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "PATH": "", "HOME": str(Path.home())},
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


@pytest.mark.cpython_only
def test_the_js_protocol_module_behaves():
    run = _deno_test("deno/protocol_test.js")
    assert f"MESSAGE_TYPES={list(MESSAGE_TYPES)}".replace("'", '"').replace(", ", ",") in run.stdout


@pytest.mark.cpython_only
def test_both_twins_describe_every_message_field_by_field():
    run = _deno_test("deno/protocol_test.js")
    line = next(line for line in run.stdout.splitlines() if line.startswith("FIELDS="))
    described = json.loads(line.removeprefix("FIELDS="))
    python = {"MESSAGE_FIELDS": MESSAGE_FIELDS, "HOST_REQUESTS": HOST_REQUESTS, "HOST_REPLIES": HOST_REPLIES}
    assert set(described) == set(python)
    for table, messages in python.items():
        assert list(described[table]) == list(messages), table
        for kind, fields in messages.items():
            assert described[table][kind] == fields, f"{table}.{kind}"
    assert set(MESSAGE_FIELDS) == set(MESSAGE_TYPES)


def test_decode_checks_every_described_field():
    for bad in ['{"type": "tool_call", "id": 1, "name": 7, "args": [], "kwargs": {}}', '{"type": "result", "id": 1}',
                '{"type": "log", "text": {"a": 1}}', '{"type": "crashed", "reason": "x", "fatal": "yes"}',
                '{"type": "run", "id": true, "code": "1"}']:
        with pytest.raises(ProtocolError):
            decode(bad)
    assert decode('{"type": "crashed", "reason": "x"}')["reason"] == "x"
    assert decode('{"type": "interrupt", "sandbox": 3}', HOST_REQUESTS)["sandbox"] == 3
    with pytest.raises(ProtocolError):
        decode('{"type": "interrupt"}', HOST_REQUESTS)


@pytest.mark.cpython_only
def test_the_js_sandbox_client_tells_a_lost_sandbox_and_takes_a_new_port():
    run = _deno_test("tests/js/sandbox_client_test.js")
    assert "6 passed" in run.stdout, run.stdout
