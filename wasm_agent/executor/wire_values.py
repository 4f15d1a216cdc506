"""Values across the sandbox boundary: Python values as JSON-compatible data, and back.

`to_wire(value, exact=True)` is for values that cross between two Pythons (host and sandbox) with
JavaScript in between: what JSON has no form for (integral floats, tuples, bytes, sets, dates,
`Decimal`, `UUID`, paths, images, dataclasses, namedtuples, objects with attributes) crosses as a
one-key marker such as `{"$bytes": base64}` or `{"$object": {module, type, kind, fields}}`, and
`from_wire` makes it the same type again, or a faithful stand-in where the type is not on this side
(`RemoteObject`, `ImageBytes`). An object is rebuilt as a class of this side only when this side sent
that class out across the same boundary since the other side's interpreter started (`WireClasses`).
Anything else (a function, NaN, a library object with internals) crosses as
`{"$repr": repr(value), "$type": type name}` and arrives as a `RemoteValue`.
Pure Python, no imports from the package: the sandbox's Pyodide loads it with `protocol`.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import decimal
import io
import keyword
import math
import pathlib
import reprlib
import sys
import types
import uuid
from typing import Any, Callable

MAX_REPR_CHARS = 100_000
REPR_KEY, TYPE_KEY = "$repr", "$type"
# Across the sandbox boundary (`exact=True`), what JavaScript would flatten keeps its type: a float
# with an integral value (JS reads 5.0 as the number 5, which comes back as int 5) and a tuple.
FLOAT_KEY, TUPLE_KEY = "$float", "$tuple"


class RemoteValue:
    """A value that is not JSON-compatible, seen through its repr.

    >>> RemoteValue("{1, 2}", "set")
    {1, 2}
    """

    def __init__(self, text: str, type_name: str):
        self.text, self.type_name = text, type_name

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteValue) and (other.text, other.type_name) == (self.text, self.type_name)

    def __hash__(self) -> int:
        return hash((self.text, self.type_name))

    @property
    def note(self) -> str:
        return (f"(a {self.type_name} value shown as its repr: only data crosses the sandbox boundary: "
                "JSON-compatible values, bytes, sets, dates, images, objects' fields)")


# -- values ---------------------------------------------------------------------
def to_wire(value: Any, exact: bool = False, classes: WireClasses | None = None, _depth: int = 0,
            _inside: frozenset = frozenset()) -> Any:
    """JSON-compatible data for `value`; what is not becomes a repr marker.

    `exact=True` is for values that cross the sandbox boundary, where Python is on both sides but
    JavaScript may parse and re-encode them on the way: integral floats and tuples get markers
    that `from_wire` turns back into what they were, and so do bytes, sets, dates, `Decimal`,
    `UUID`, paths, dicts with other keys than strings, images and objects (see `from_wire`).
    Without it (data for a page) they are plain JSON or repr markers. The classes of objects sent
    are noted in `classes` (this side's `WireClasses` for that boundary), so that they come back as themselves.

    >>> to_wire({"x": 5.0, "pair": (1, 2.5)}, exact=True)
    {'x': {'$float': 5.0}, 'pair': {'$tuple': [1, 2.5]}}
    >>> from_wire(to_wire({"x": 5.0, "pair": (1, 2.5), "raw": b"\\x00"}, exact=True))
    {'x': 5.0, 'pair': (1, 2.5), 'raw': b'\\x00'}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2 ** 53 else _repr_marker(value)  # JS loses bigger integers
    if isinstance(value, float):
        if not math.isfinite(value):
            return _repr_marker(value)
        return {FLOAT_KEY: value} if exact and value.is_integer() else value
    if isinstance(value, RemoteValue):
        return {REPR_KEY: value.text, TYPE_KEY: value.type_name}
    if _depth >= 100:
        # Too deep to cross: a repr that stops a few levels down (a full one would recurse as deep
        # as the value, and in Pyodide overflowing the stack is fatal).
        if isinstance(value, (list, tuple, dict, set, frozenset)):
            return {REPR_KEY: reprlib.repr(value), TYPE_KEY: type(value).__name__}
        return {REPR_KEY: f"<{type(value).__name__} nested too deep to cross>", TYPE_KEY: type(value).__name__}
    if id(value) in _inside:  # a value that contains itself: where it does, its repr
        return _repr_marker(value)
    _inside = _inside | {id(value)}
    if exact:
        scalar = _exact_scalar(value)
        if scalar is not None:
            return scalar
        described = _describe_object(value)
        if described is not None:
            return _object_marker(value, *described, classes, _depth, _inside)
    if isinstance(value, (list, tuple)):
        items = [to_wire(item, exact, classes, _depth + 1, _inside) for item in value]
        return {TUPLE_KEY: items} if exact and isinstance(value, tuple) else items
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not value.keys() & _RESERVED_KEYS:
            return {key: to_wire(item, exact, classes, _depth + 1, _inside) for key, item in value.items()}
        if exact:  # other keys (ints, tuples…), or keys a marker uses: as pairs
            return {"$dict": [[to_wire(key, exact, classes, _depth + 1, _inside),
                               to_wire(item, exact, classes, _depth + 1, _inside)] for key, item in value.items()]}
    if exact and isinstance(value, (set, frozenset)):
        return {"$frozenset" if isinstance(value, frozenset) else "$set":
                [to_wire(item, exact, classes, _depth + 1, _inside) for item in value]}
    return _repr_marker(value)


def from_wire(data: Any, classes: WireClasses | None = None) -> Any:
    """The Python value for wire data.

    Repr markers become `RemoteValue`s. Integral floats, tuples, bytes, bytearrays, sets, frozensets,
    dicts with other keys than strings, `date`/`datetime`/`time`/`timedelta` (a time zone as its
    fixed UTC offset), `Decimal`, `UUID`, `complex` and paths come back as themselves. An image comes
    back as a PIL image when Pillow is installed here, else as `ImageBytes` (its file's bytes).
    A dataclass, namedtuple or object with attributes comes back as its own class when `classes` (this
    side's `WireClasses` for that boundary) says this side sent that class out (rebuilt from its fields,
    without calling `__init__`), else as a stand-in of the same name (`RemoteObject`: the same fields,
    as a dataclass or namedtuple when it was one).
    """
    return _decode(data, WireClasses() if classes is None else classes)


def _decode(data: Any, classes: WireClasses) -> Any:
    if isinstance(data, list):
        return [_decode(item, classes) for item in data]
    if isinstance(data, dict):
        if REPR_KEY in data:
            return RemoteValue(str(data[REPR_KEY]), str(data.get(TYPE_KEY, "object")))
        if len(data) == 1:
            (key, payload), = data.items()
            decoder = _DECODERS.get(key)
            if decoder is not None:
                try:
                    return decoder(payload, classes)
                except Exception:  # noqa: BLE001 - malformed marker data: it stays the data it is
                    pass
        return {key: _decode(item, classes) for key, item in data.items()}
    return data


class WireClasses:
    """The classes one side of a sandbox boundary knows while the other side's interpreter lives.

    `sent`: the classes this side sent out, by (module, qualified name), the only ones an object
    coming back is rebuilt as. A sandbox names a class by those two strings alone, so its code could
    name any class; rebuilt are only those its own run was given (by its tools, by its variables).
    Each executor holds one and starts a new one with each fresh interpreter (a new run, another agent),
    so nothing another agent or an earlier run was sent can be forged. `stand_ins`: the classes made
    for the other side's objects, one per (class, kind, fields), both bounded by `MAX_CLASSES`.

    >>> classes = WireClasses()
    >>> point = collections.namedtuple("Point", "x y")
    >>> type(from_wire(to_wire(point(1, 2), exact=True, classes=classes), classes)) is point
    True
    >>> type(from_wire(to_wire(point(1, 2), exact=True), WireClasses())) is point  # not sent by this side
    False
    """

    MAX_CLASSES = 1024  # a side that sends endless new class names makes no more than this many

    def __init__(self) -> None:
        self.sent: dict[tuple[str, str], type] = {}
        self.stand_ins: dict[tuple, type] = {}

    def note_sent(self, module: str, qualname: str, cls: type) -> None:
        if len(self.sent) < self.MAX_CLASSES or (module, qualname) in self.sent:
            self.sent[module, qualname] = cls


class RemoteObject:
    """A stand-in for an object whose class is on the other side of the sandbox: the same class
    name and fields (a dataclass stand-in for a dataclass, a namedtuple one for a namedtuple), no
    methods. Sent back, it becomes the original class again where that class is.

    >>> box = from_wire({"$object": {"module": "shapes", "type": "Box", "kind": "object",
    ...                              "fields": {"width": 3, "height": 4}}})
    >>> box.width * box.height, box
    (12, Box(width=3, height=4))
    """

    __slots__ = ()
    wire_module: str = ""
    wire_type: str = ""

    def __repr__(self) -> str:
        text = getattr(self, "_wire_repr", None)
        if text is not None:
            return text
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # like a dataclass that is not frozen


class ImageBytes(bytes):
    """An image's file bytes (PNG, JPEG…), where Pillow is not installed to open it.

    Save it (`image.save("out.png")`) or pass it on: it becomes a PIL image again where Pillow is.
    """

    @property
    def format(self) -> str:
        return image_format(self)

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) for a PNG or GIF, read from its header; else None."""
        if self.startswith(b"\x89PNG") and len(self) >= 24:
            return int.from_bytes(self[16:20], "big"), int.from_bytes(self[20:24], "big")
        if self.startswith(b"GIF") and len(self) >= 10:
            return int.from_bytes(self[6:8], "little"), int.from_bytes(self[8:10], "little")
        return None

    def save(self, target: Any) -> None:
        if hasattr(target, "write"):
            target.write(bytes(self))
        else:
            with open(target, "wb") as file:
                file.write(bytes(self))

    def __repr__(self) -> str:
        size = "x".join(map(str, self.size)) + " " if self.size else ""
        return f"<{self.format} image {size}({len(self)} bytes; Pillow is not installed here to open it)>"


_IMAGE_MAGIC = ((b"\x89PNG", "png"), (b"\xff\xd8", "jpeg"), (b"GIF8", "gif"), (b"RIFF", "webp"), (b"BM", "bmp"))


def image_format(data: bytes) -> str:
    """The format of image file bytes from their first bytes ("png", "jpeg", "gif", "webp", "bmp"), or "unknown"."""
    for magic, name in _IMAGE_MAGIC:
        if data.startswith(magic) and (name != "webp" or data[8:12] == b"WEBP"):
            return name
    return "unknown"
_OBJECT_KEY = "$object"


def _exact_scalar(value: Any) -> dict | None:
    """The marker of a value with its own wire form (bytes, dates, images…), or None."""
    if isinstance(value, ImageBytes) or is_image(value):
        return {"$image": base64.b64encode(image_file_bytes(value)).decode()}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytearray" if isinstance(value, bytearray) else "$bytes": base64.b64encode(value).decode()}
    for kind, encode in _SCALAR_ENCODERS:
        if isinstance(value, kind):
            return encode(value)
    return None


def _complex_marker(value: complex) -> dict | None:
    return {"$complex": [value.real, value.imag]} if math.isfinite(abs(value)) else None


_SCALAR_ENCODERS: tuple[tuple[type, Callable[[Any], dict | None]], ...] = (
    (datetime.datetime, lambda v: {"$datetime": v.isoformat()}),  # before date: a datetime is a date
    (datetime.date, lambda v: {"$date": v.isoformat()}),
    (datetime.time, lambda v: {"$time": v.isoformat()}),
    (datetime.timedelta, lambda v: {"$timedelta": [v.days, v.seconds, v.microseconds]}),
    (decimal.Decimal, lambda v: {"$decimal": str(v)}),
    (uuid.UUID, lambda v: {"$uuid": str(v)}),
    (complex, _complex_marker),
    (pathlib.PurePath, lambda v: {"$path": str(v)}),
)


def is_image(value: Any) -> bool:
    """True for a PIL image or an `AgentImage` (with or without Pillow)."""
    pil = sys.modules.get("PIL.Image")  # not imported: no value is a PIL image
    if pil is not None and isinstance(value, pil.Image):
        return True
    agent_types = sys.modules.get(__name__.rsplit(".", 2)[0] + ".agent_types")  # loaded where AgentImage is used
    return agent_types is not None and isinstance(value, agent_types.AgentImage)


def image_file_bytes(value: Any) -> bytes:
    """The file bytes of an image: as given (ImageBytes, AgentImage of bytes or a path), else as PNG."""
    raw = value.to_raw() if hasattr(value, "to_raw") else value  # an AgentImage: the image it holds
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    if isinstance(raw, (str, pathlib.Path)):
        return pathlib.Path(raw).read_bytes()
    buffer = io.BytesIO()
    try:
        raw.save(buffer, format="PNG")
    except OSError:  # a mode PNG cannot hold (CMYK…)
        buffer = io.BytesIO()
        raw.save(buffer, format="TIFF")
    return buffer.getvalue()


def _decode_image(payload: str) -> Any:
    data = base64.b64decode(payload, validate=True)
    try:
        import PIL.Image
    except ImportError:  # the sandbox has no Pillow unless it was installed there
        return ImageBytes(data)
    return PIL.Image.open(io.BytesIO(data))


def _describe_object(value: Any) -> tuple[str, dict[str, Any], str | None] | None:
    """(kind, fields, repr text or None) for a value that crosses by its fields, or None."""
    if isinstance(value, RemoteObject):
        kind = "dataclass" if dataclasses.is_dataclass(value) else "namedtuple" if isinstance(value, tuple) \
            else "object"
        fields = value._asdict() if kind == "namedtuple" else dict(vars(value)) if kind == "object" else \
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return kind, fields, getattr(value, "_wire_repr", None)
    if isinstance(value, tuple):
        return ("namedtuple", value._asdict(), None) if isinstance(getattr(type(value), "_fields", None), tuple) \
            else None
    if isinstance(value, _NOT_DATA):
        return None
    if dataclasses.is_dataclass(value):
        return "dataclass", {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, None
    attributes = getattr(value, "__dict__", None)
    if not isinstance(attributes, dict) or not all(_is_field_name(key) for key in attributes):
        return None
    if type(value).__repr__ is object.__repr__:
        return "object", dict(attributes), None
    # A class with its own repr (a library's, often) crosses by fields only when they are all plain data.
    if all(_is_plain_data(item) for item in attributes.values()):
        text = _repr_marker(value)[REPR_KEY]
        return "object", dict(attributes), text
    return None


# Never by fields: containers have their own forms; classes, code, errors and files are not data.
_NOT_DATA = (type, list, dict, set, frozenset, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
             types.MethodType, BaseException, io.IOBase)
_PLAIN = (type(None), bool, int, float, str, bytes, bytearray, datetime.date, datetime.time,
          datetime.timedelta, decimal.Decimal, uuid.UUID, complex, pathlib.PurePath)


def _is_plain_data(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if depth > 3 or not isinstance(value, (list, tuple, dict, set, frozenset)):
        return False
    items = list(value.items()) if isinstance(value, dict) else [(item, None) for item in value]
    return len(items) <= 1000 and all(_is_plain_data(k, depth + 1) and _is_plain_data(v, depth + 1)
                                      for k, v in items)


def _object_marker(value: Any, kind: str, fields: dict[str, Any], text: str | None, classes: WireClasses | None,
                   depth: int, inside: frozenset) -> dict:
    cls = type(value)
    if isinstance(value, RemoteObject):
        module, qualname = cls.wire_module, cls.wire_type
    else:
        module, qualname = str(getattr(cls, "__module__", "")), cls.__qualname__
        if classes is not None:
            classes.note_sent(module, qualname, cls)
    body = {"module": module, "type": qualname, "kind": kind,
            "fields": {name: to_wire(item, True, classes, depth + 1, inside) for name, item in fields.items()}}
    if text is not None:
        body["repr"] = text
    return {_OBJECT_KEY: body}


def _is_field_name(name: Any) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name) \
        and not name.startswith("__")


def _decode_object(body: dict, classes: WireClasses) -> Any:
    module, qualname, kind = str(body["module"]), str(body["type"]), body["kind"]
    if kind not in ("dataclass", "namedtuple", "object") or len(body["fields"]) > 256 or \
            not all(_is_field_name(name) for name in body["fields"]):
        raise ValueError("not an object marker")
    fields = {name: _decode(item, classes) for name, item in body["fields"].items()}
    text = body.get("repr")
    original = classes.sent.get((module, qualname))
    if original is not None:
        try:
            return _rebuild(original, kind, fields)
        except Exception:  # noqa: BLE001 - the class changed shape, or refuses: a stand-in then
            pass
    stand_in = _stand_in_class(classes, module, qualname, kind, tuple(fields), text is not None)
    if kind == "namedtuple":
        return stand_in(**fields)
    instance = stand_in(**fields)
    if text is not None:
        instance._wire_repr = str(text)
    return instance


def _rebuild(cls: type, kind: str, fields: dict[str, Any]) -> Any:
    """An instance of `cls` (a class this side sent out) from its fields, without running its code."""
    if kind == "namedtuple":
        return cls._make(fields[name] for name in cls._fields)
    if kind == "dataclass":
        if {f.name for f in dataclasses.fields(cls)} != fields.keys():
            raise ValueError("fields differ")
        instance = object.__new__(cls)
        for name, item in fields.items():
            object.__setattr__(instance, name, item)  # frozen dataclasses too
        return instance
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


def _stand_in_class(classes: WireClasses, module: str, qualname: str, kind: str, names: tuple[str, ...],
                    has_repr: bool) -> type:
    key = (module, qualname, kind, names, has_repr)
    cls = classes.stand_ins.get(key)
    if cls is not None:
        return cls
    if len(classes.stand_ins) >= classes.MAX_CLASSES:  # endless new shapes (a flood from the other side)
        return _OverflowObject
    name = qualname.rsplit(".", 1)[-1]
    name = name if _is_field_name(name) else "RemoteObject"
    attributes = {"wire_module": module, "wire_type": qualname, "__module__": __name__}
    if kind == "dataclass":
        cls = dataclasses.make_dataclass(name, names, bases=(RemoteObject,), namespace=attributes)
    elif kind == "namedtuple":
        cls = type(name, (collections.namedtuple(name, names), RemoteObject), {**attributes, "__slots__": ()})
    else:
        cls = type(name, (RemoteObject,), {**attributes, "__slots__": ("__dict__", "_wire_repr"),
                                           "__init__": _set_fields})
    cls.__qualname__ = qualname[:200]
    classes.stand_ins[key] = cls
    return cls


def _set_fields(self: Any, **fields: Any) -> None:
    self.__dict__.update(fields)


_OverflowObject = type("RemoteObject", (RemoteObject,),
                       {"__slots__": ("__dict__", "_wire_repr"), "__init__": _set_fields})


def _decode_set(payload: list, classes: WireClasses) -> set:
    return set(_decode(item, classes) for item in payload)


def _decode_dict(payload: list, classes: WireClasses) -> dict:
    return {_decode(key, classes): _decode(item, classes) for key, item in payload}


def _scalar(decode: Callable[[Any], Any]) -> Callable[[Any, WireClasses], Any]:
    return lambda payload, _classes: decode(payload)


# Each marker's decoder, given its payload and the boundary's classes.
_DECODERS: dict[str, Callable[[Any, WireClasses], Any]] = {
    FLOAT_KEY: _scalar(lambda p: float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else _bad()),
    TUPLE_KEY: lambda p, c: tuple(_decode(item, c) for item in p) if isinstance(p, list) else _bad(),
    "$bytes": _scalar(lambda p: base64.b64decode(p, validate=True)),
    "$bytearray": _scalar(lambda p: bytearray(base64.b64decode(p, validate=True))),
    "$set": _decode_set,
    "$frozenset": lambda p, c: frozenset(_decode_set(p, c)),
    "$dict": _decode_dict,
    "$datetime": _scalar(datetime.datetime.fromisoformat),
    "$date": _scalar(datetime.date.fromisoformat),
    "$time": _scalar(datetime.time.fromisoformat),
    "$timedelta": _scalar(lambda p: datetime.timedelta(*p)),
    "$decimal": _scalar(lambda p: decimal.Decimal(str(p))),
    "$uuid": _scalar(lambda p: uuid.UUID(str(p))),
    "$complex": _scalar(lambda p: complex(*p)),
    "$path": _scalar(lambda p: pathlib.Path(str(p))),
    "$image": _scalar(_decode_image),
    _OBJECT_KEY: _decode_object,
}
# A dict with one of these keys crosses as pairs, so that it is never taken for a marker.
_RESERVED_KEYS = frozenset(_DECODERS) | {REPR_KEY}


def _bad() -> Any:
    raise ValueError("malformed marker")


def _repr_marker(value: Any) -> dict:
    try:
        text = repr(value)
    except Exception as error:  # noqa: BLE001 - a broken __repr__ must not break the protocol
        text = f"<{type(value).__name__} object; repr() failed: {error!r}>"
    if len(text) > MAX_REPR_CHARS:
        text = text[:MAX_REPR_CHARS] + f"... [{len(text) - MAX_REPR_CHARS} more characters]"
    return {REPR_KEY: text, TYPE_KEY: type(value).__name__}
