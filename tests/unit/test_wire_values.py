"""Values across the sandbox boundary: each arrives as the same type, or a stand-in that behaves like it.

Both sides of the boundary run this module's `to_wire`/`from_wire`; a value's trip is simulated here by
encoding, passing the data through JSON the way JavaScript re-encodes it, and decoding. Each side notes
the classes it sent out in its own `WireClasses`: "the other side" (where the value's class was never
sent from) decodes with classes of its own.
"""

import collections
import dataclasses
import datetime
import decimal
import json
import struct
import sys
import uuid
import zlib
from pathlib import Path

import pytest

from wasm_agent.executor import wire_values
from wasm_agent.executor.protocol import ImageBytes, RemoteObject, RemoteValue, WireClasses, from_wire, to_wire

THIS_SIDE = WireClasses()  # the classes this side sent out, across every test's boundary


def through_javascript(value, classes=THIS_SIDE):
    """Encode, then what JSON.parse + JSON.stringify do (an integral float loses its point), then decode."""
    text = json.dumps(to_wire(value, exact=True, classes=classes), allow_nan=False)
    return from_wire(json.loads(text, parse_float=lambda t: int(float(t)) if float(t).is_integer() else float(t)),
                     classes)


@pytest.fixture
def other_side():
    """Decode as the other side would: it has none of the classes this side sent (one stand-in per class)."""
    theirs = WireClasses()

    def cross(value):
        return from_wire(json.loads(json.dumps(to_wire(value, exact=True, classes=THIS_SIDE))), theirs)
    return cross


@dataclasses.dataclass
class Box:
    width: int
    height: float
    label: str = "box"

    def area(self):
        return self.width * self.height


@dataclasses.dataclass(frozen=True)
class Frozen:
    key: str


class Reading:
    """A plain class: attributes in __init__, the default repr."""

    def __init__(self, sensor, values):
        self.sensor, self.values = sensor, values


class Quote:
    """A class with its own repr and plain-data attributes (like a pydantic model)."""

    def __init__(self, symbol, price):
        self.symbol, self.price = symbol, price

    def __repr__(self):
        return f"Quote<{self.symbol} @ {self.price}>"


Point = collections.namedtuple("Point", "x y")


def png(width, height):
    """A valid grey PNG, made without Pillow."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("value", [
    b"\x00\xffraw", bytearray(b"grow"), {3, 1, 2}, frozenset({"a"}), (1, (2.0, [3])),
    {1: "one", (2, 3): "pair", None: "none"}, {"$bytes": "not a marker", "$repr": 1},
    datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 13, 5, 7, 123),
    datetime.datetime(2024, 2, 29, 13, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    datetime.time(23, 59, 1), datetime.timedelta(days=-1, seconds=5, microseconds=7),
    decimal.Decimal("10.50"), uuid.UUID("12345678-1234-5678-1234-567812345678"), 2 - 0.5j, Path("/data/in.csv"),
    {"nested": [{"deep": {b"k": {1.0, 2.5}}}]},
])
def test_values_with_a_type_on_both_sides_arrive_as_that_type(value):
    back = through_javascript(value)
    assert back == value and type(back) is type(value)


def test_a_dataclass_arrives_as_a_dataclass_of_the_same_name_and_fields(other_side):
    box = other_side(Box(3, 4.0))
    assert (box.width, box.height, box.label) == (3, 4.0, "box")
    assert repr(box) == "Box(width=3, height=4.0, label='box')" and isinstance(box, RemoteObject)
    assert dataclasses.is_dataclass(box) and dataclasses.asdict(box) == {"width": 3, "height": 4.0, "label": "box"}
    assert dataclasses.replace(box, width=5).width == 5 and box == other_side(Box(3, 4.0))
    assert not hasattr(box, "area")  # methods stay with the class, on its own side


def test_objects_namedtuples_and_nesting_keep_their_attributes(other_side):
    value = other_side({"reading": Reading("t1", [Point(1, 2), Box(1, 2.0)]), "quote": Quote("ACME", 9.5)})
    reading, quote = value["reading"], value["quote"]
    assert reading.sensor == "t1" and repr(reading) == "Reading(sensor='t1', values=[Point(x=1, y=2), " \
                                                       "Box(width=1, height=2.0, label='box')])"
    point = reading.values[0]
    assert point == (1, 2) and point.x == 1 and point._asdict() == {"x": 1, "y": 2}
    assert quote.price == 9.5 and repr(quote) == "Quote<ACME @ 9.5>"  # its own repr, kept
    assert type(other_side(Reading("t2", []))) is type(reading)  # one stand-in class per class


def test_a_value_sent_back_becomes_its_own_class_again(other_side):
    original = {"box": Box(2, 3.0, "lid"), "frozen": Frozen("k"), "reading": Reading("t", {"a": 1}),
                "point": Point(4, 5)}
    stand_ins = other_side(original)
    back = through_javascript(stand_ins)  # this side sent these classes: it rebuilds them
    assert back["box"] == original["box"] and type(back["box"]) is Box and back["box"].area() == 6.0
    assert back["frozen"] == Frozen("k") and type(back["point"]) is Point
    assert type(back["reading"]) is Reading and vars(back["reading"]) == {"sensor": "t", "values": {"a": 1}}


def test_a_class_of_the_other_side_is_not_built_from_a_name_alone():
    forged = {"$object": {"module": "subprocess", "type": "Popen", "kind": "object", "fields": {"args": "ls"}}}
    value = from_wire(forged)
    assert isinstance(value, RemoteObject) and type(value).__module__ == wire_values.__name__
    assert from_wire({"$object": {"module": "m", "type": "T", "kind": "object",
                                  "fields": {"__class__": 1}}}) == {"$object": {"module": "m", "type": "T",
                                                                                "kind": "object",
                                                                                "fields": {"__class__": 1}}}


def test_a_class_is_rebuilt_only_across_the_boundary_that_sent_it():
    mine, another_agents = WireClasses(), WireClasses()  # one per executor, new for each of its runs
    data = json.loads(json.dumps(to_wire({"box": Box(2, 3.0)}, exact=True, classes=mine)))
    assert type(from_wire(data, mine)["box"]) is Box
    stranger = from_wire(data, another_agents)["box"]  # the same data from another sandbox: a forgery there
    assert isinstance(stranger, RemoteObject) and repr(stranger) == "Box(width=2, height=3.0, label='box')"
    assert isinstance(from_wire(data)["box"], RemoteObject)  # no classes given: none rebuilt


def test_malformed_markers_stay_plain_data():
    for data in ({"$bytes": "%%%"}, {"$date": 5}, {"$timedelta": "x"}, {"$set": [[1]]}, {"$object": []}):
        assert from_wire(data) == data


def test_an_image_without_pillow_arrives_as_its_bytes_with_its_size(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL fails, as in a sandbox without Pillow
    image = through_javascript(ImageBytes(png(6, 4)))
    assert isinstance(image, ImageBytes) and image.format == "png" and image.size == (6, 4)
    assert repr(image) == "<png image 6x4 (%d bytes; Pillow is not installed here to open it)>" % len(image)


@pytest.mark.cpython_only
def test_a_pil_image_arrives_as_a_pil_image():
    Image = pytest.importorskip("PIL.Image")  # in the test extra; the Pyodide run has no Pillow
    from wasm_agent.agent_types import AgentImage

    red = Image.new("RGB", (10, 7), "red")
    for value in (red, AgentImage(red), ImageBytes(png(10, 7))):
        back = through_javascript(value)
        assert isinstance(back, Image.Image) and back.size == (10, 7)
    assert through_javascript(red).getpixel((0, 0)) == (255, 0, 0)


def test_what_has_no_faithful_form_still_crosses_as_its_repr():
    values = through_javascript({"f": len, "nan": float("nan"), "big": 2 ** 60, "error": ValueError("no")})
    assert all(isinstance(value, RemoteValue) for value in values.values())
    assert repr(values["f"]) == "<built-in function len>" and repr(values["error"]) == "ValueError('no')"


def test_cycles_and_deep_nesting_do_not_break_the_encoding():
    loop = Reading("self", None)
    loop.values = [loop, loop]
    back = through_javascript(loop)
    assert back.sensor == "self"
    deep = []
    for _ in range(300):
        deep = [deep]
    assert "[[[[" in repr(through_javascript(deep))


def test_a_class_sent_out_is_rebuilt_without_running_its_code():
    class Guarded:
        made = 0

        def __init__(self, level):
            Guarded.made += 1
            self.level = level

    back = through_javascript(Guarded(3))
    assert type(back) is Guarded and back.level == 3 and Guarded.made == 1


def test_a_flood_of_new_class_names_makes_no_more_classes(monkeypatch):
    classes = WireClasses()
    monkeypatch.setattr(classes, "MAX_CLASSES", 5)
    made = [from_wire({"$object": {"module": "m", "type": f"T{i}", "kind": "dataclass", "fields": {"a": i}}}, classes)
            for i in range(20)]
    assert len({type(value) for value in made}) == 6 and [value.a for value in made] == list(range(20))
    other = from_wire({"$object": {"module": "m", "type": "T", "kind": "dataclass", "fields": {"a": 1}}},
                      WireClasses())
    assert repr(other) == "T(a=1)"  # a flood across one boundary leaves the others' stand-ins whole
