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
    # "number" fields: finite numbers only (an infinite one is no JSON, but Python's parser reads it)
    ready = '{"type": "ready", "startup_ms": %s, "snapshot": true, "bridge": "atomics", "interrupts": true}'
    assert decode(ready % "12.5")["startup_ms"] == 12.5
    for bad in ["Infinity", "NaN", '"soon"', "true"]:
        with pytest.raises(ProtocolError):
            decode(ready % bad)


@pytest.mark.cpython_only
def test_the_js_sandbox_client_tells_a_lost_sandbox_and_takes_a_new_port():
    run = _deno_test("tests/js/sandbox_client_test.js")
    assert "9 passed" in run.stdout and " 0 failed" in run.stdout, run.stdout


def _plain_in_javascript(data):
    """What a JS consumer of the sandbox gets for wire data (web/protocol.js `plainValue`), each value
    tagged with its JS type by tests/js/plain_value.mjs."""
    sandbox = pytest.importorskip("wasm_agent.executor.sandbox")
    deno = sandbox.find_deno()
    if deno is None:
        pytest.skip("Deno is not installed")
    run = subprocess.run([deno, "run", "--no-prompt", "--no-config", "--no-lock", "--allow-read=web,tests/js",
                          "tests/js/plain_value.mjs"], input=json.dumps(data), cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=False,
                         env={"DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1", "PATH": "", "HOME": str(Path.home())})
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


@pytest.mark.cpython_only
def test_javascript_consumers_get_natural_values_for_every_python_marker():
    import dataclasses
    import datetime
    import decimal
    import uuid
    from collections import namedtuple

    from wasm_agent.executor.wire_values import _DECODERS, ImageBytes

    @dataclasses.dataclass
    class Box:
        width: int
        tags: set

    Point = namedtuple("Point", "x y")
    png = b"\x89PNG\r\n\x1a\n" + bytes(16)
    value = {
        "float": 5.0, "tuple": (1, 2.5), "bytes": b"\x00\xff", "bytearray": bytearray(b"ab"), "set": {3},
        "frozenset": frozenset({"a"}), "int_keys": {1: "one"}, "marker_like_keys": {"$set": 1},
        "aware": datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "naive": datetime.datetime(2024, 1, 2, 3, 4, 5), "date": datetime.date(2024, 1, 2),
        "time": datetime.time(3, 4, 5), "timedelta": datetime.timedelta(days=1, seconds=2, microseconds=500_000),
        "decimal": decimal.Decimal("0.1000000000000000000001"), "uuid": uuid.UUID(int=1), "complex": 1 + 2j,
        "path": Path("/data/out.csv"), "box": Box(3, {"red"}), "point": Point(1, 2.0),
        "repr": object,
    }
    wire = to_wire(value, exact=True)
    wire["image"] = to_wire(ImageBytes(png), exact=True)
    markers = {next(iter(item)) for item in wire.values() if isinstance(item, dict) and len(item) == 1}
    assert markers == set(_DECODERS)  # every marker Python sends is tried here
    plain = _plain_in_javascript(wire)["Object"]
    assert plain["float"] == 5 and plain["tuple"] == [1, 2.5]
    assert plain["bytes"] == {"Uint8Array": [0, 255]} and plain["bytearray"] == {"Uint8Array": [97, 98]}
    assert plain["set"] == {"Set": [3]} and plain["frozenset"] == {"Set": ["a"]}
    assert plain["int_keys"] == {"Map": [[1, "one"]]} and plain["marker_like_keys"] == {"Map": [["$set", 1]]}
    assert plain["aware"] == {"Date": "2024-01-02T01:04:05.123Z"}  # an instant: a Date, in UTC here
    assert plain["naive"] == "2024-01-02T03:04:05"  # no time zone, no instant: the ISO text
    assert (plain["date"], plain["time"]) == ("2024-01-02", "03:04:05")
    assert plain["timedelta"] == 86402.5  # seconds, as Python's total_seconds()
    assert plain["decimal"] == "0.1000000000000000000001"  # every digit kept
    assert plain["uuid"] == "00000000-0000-0000-0000-000000000001" and plain["path"] == "/data/out.csv"
    assert plain["complex"] == {"Object": {"real": 1, "imag": 2}}
    assert plain["box"] == {"Object": {"width": 3, "tags": {"Set": ["red"]}}}
    assert plain["point"] == {"Object": {"x": 1, "y": 2}}
    assert plain["repr"] == {"Object": {"$repr": "<class 'object'>", "$type": "type"}}  # no JS value: it stays
    assert plain["image"] == {"Blob": "image/png", "bytes": list(png)}


@pytest.mark.cpython_only
def test_a_malformed_marker_reaches_javascript_as_the_data_it_is():
    wire = {"a": {"$bytes": "not base64!"}, "b": {"$set": 3}, "c": {"$timedelta": [1]}, "d": {"$object": []}}
    assert _plain_in_javascript(wire)["Object"] == {
        "a": {"Object": {"$bytes": "not base64!"}}, "b": {"Object": {"$set": 3}},
        "c": {"Object": {"$timedelta": [1]}}, "d": {"Object": {"$object": []}}}


@pytest.mark.cpython_only
def test_the_relay_core_passes_only_framed_sandbox_messages_and_replaces_a_worker_that_sends_others():
    run = _deno_test("tests/js/relay_test.js")
    assert "9 passed" in run.stdout, run.stdout
