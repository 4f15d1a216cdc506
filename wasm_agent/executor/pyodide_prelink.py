"""What Emscripten's linker does with the exports of Pyodide's main module, worked out once from the wasm file.

At every boot the linker walks the table the module's element segments filled (to know which functions
have a slot), then gives each exported function without one the next slot past the table's end, and makes
a GOT entry for every export (its slot, or a data symbol's address). All of that follows from the wasm file
alone; `prelink_layout` computes it here, the way the linker does, and the patched factory
(`pyodide_fastboot`) then grows the table once, puts the exports in their slots, and leaves the rest to the
first lookup that needs it. The symbols the module imports through the GOT are still resolved at boot:
they are JS functions.

Anything this reader does not expect (another element segment form, an exported imported global, a name
the linker would treat differently) raises PrelinkError, and the factory links as it always did. The
factory also checks at boot that the table and the exports are the ones described, or links as usual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class PrelinkError(ValueError):
    """The wasm module is not shaped as this reader expects: link it at boot as usual."""


@dataclass(frozen=True)
class PrelinkLayout:
    table_start: int  # the table's length once instantiated: the first slot the linker hands out
    export_count: int  # all exports, in the order the linker walks them
    appended: list[int]  # positions (in that order) of the exported functions given slots past table_start
    values: list[int | None]  # each export's GOT value (None: no GOT entry)
    check: list[tuple[int, str]]  # a few (position, name) the factory compares with the exports it gets

    def js(self) -> str:
        """A JS object literal the patched factory reads (`prelinkedLayout`)."""
        return json.dumps({"tableStart": self.table_start, "exportCount": self.export_count,
                           "appended": ",".join(map(str, self.appended)),
                           "values": ",".join("" if value is None else str(value) for value in self.values),
                           "check": self.check},
                          separators=(",", ":"))


def internal_symbols(factory_source: str) -> tuple[list[str], str]:
    """The linker's list of symbols that get no GOT entry, and the prefix it skips, read from the factory."""
    found = re.search(r'var isInternalSym=symName=>(\[[^\]]*\])\.includes\(symName\)\|\|symName\.startsWith\("([^"]*)"\);',
                      factory_source)
    if not found:
        raise PrelinkError("the factory's isInternalSym is not the expected one")
    return json.loads(found.group(1)), found.group(2)


def prelink_layout(wasm: bytes, factory_source: str) -> PrelinkLayout:
    """The table slots and GOT values the linker gives the main module's exports (see the module's doc)."""
    internal, internal_prefix = internal_symbols(factory_source)
    sections = _sections(wasm)
    imports = _vector(sections.get(2), _import)
    imported_functions = sum(1 for _, _, kind in imports if kind == 0)
    imported_globals = sum(1 for _, _, kind in imports if kind == 3)
    got_imports = {name for module, name, kind in imports if kind == 3 and module in ("GOT.mem", "GOT.func")}
    if any(kind == 1 for _, _, kind in imports):
        raise PrelinkError("the module imports its table")
    table_start = _first_table_size(sections.get(4))
    table: list[int | None] = [None] * table_start
    for offset, functions in _vector(sections.get(9), _element_segment):
        if offset + len(functions) > table_start:
            raise PrelinkError("an element segment outside the table")
        table[offset:offset + len(functions)] = functions
    slot_of: dict[int, int] = {}  # the linker's walk: a function's last slot wins
    for slot, function in enumerate(table):
        if function is not None:
            slot_of[function] = slot
    globals_ = _vector(sections.get(6), _global_value)
    exports = _vector(sections.get(7), _export)
    appended: list[int] = []
    values: list[int | None] = []
    for position, (name, kind, index) in enumerate(exports):
        if _is_array_index(name):
            raise PrelinkError(f"export {name!r} would be walked out of order")
        if name in internal or name.startswith(internal_prefix):
            values.append(None)
            continue
        if name in got_imports:
            raise PrelinkError(f"export {name!r} is also imported through the GOT")
        if kind == 0:
            if index < imported_functions:
                raise PrelinkError(f"export {name!r} is an imported function")
            if index not in slot_of:
                slot_of[index] = table_start + len(appended)
                appended.append(position)
            values.append(slot_of[index])
        elif kind == 3:
            if index < imported_globals:
                raise PrelinkError(f"export {name!r} is an imported global")
            value = globals_[index - imported_globals]
            if value == "i64":
                values.append(None)  # not a number in JS: the linker skips it
                continue
            if value is None:
                raise PrelinkError(f"export {name!r} is a global the linker would read otherwise")
            values.append(value)
        else:
            values.append(None)  # a table, a memory, a tag: no value the linker takes
    positions = sorted({0, len(exports) - 1, *appended[:1], *appended[-1:]}) if exports else []
    return PrelinkLayout(table_start, len(exports), appended, values, [(at, exports[at][0]) for at in positions])


def _leb(data: bytes, at: int, signed: bool = False) -> tuple[int, int]:
    """A LEB128 number at `at` and where it ends."""
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if signed and byte & 0x40:
                result -= 1 << shift
            return result, at


def _name(data: bytes, at: int) -> tuple[str, int]:
    length, at = _leb(data, at)
    return data[at:at + length].decode("utf-8"), at + length


def _sections(wasm: bytes) -> dict[int, bytes]:
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise PrelinkError("not a wasm module")
    sections: dict[int, bytes] = {}
    at = 8
    while at < len(wasm):
        kind = wasm[at]
        size, at = _leb(wasm, at + 1)
        if kind:
            if kind in sections:
                raise PrelinkError(f"section {kind} twice")
            sections[kind] = wasm[at:at + size]
        at += size
    return sections


def _limits(data: bytes, at: int) -> tuple[int, int]:
    flags, at = data[at], at + 1
    minimum, at = _leb(data, at)
    if flags & 1:
        _, at = _leb(data, at)
    if flags & ~1:
        raise PrelinkError(f"limits with flags {flags}")
    return minimum, at


def _vector(data: bytes | None, item: Callable[[bytes, int], tuple[T, int]]) -> list[T]:
    """A section's items (a vector that `item` reads one by one); an absent section has none."""
    return _vector_at(data, 0, item)[0] if data else []


def _vector_at(data: bytes, at: int, item: Callable[[bytes, int], tuple[T, int]]) -> tuple[list[T], int]:
    """The vector at `at` (its count, then its items) and where it ends."""
    count, at = _leb(data, at)
    found = []
    for _ in range(count):
        value, at = item(data, at)
        found.append(value)
    return found, at


def _import(data: bytes, at: int) -> tuple[tuple[str, str, int], int]:
    module, at = _name(data, at)
    name, at = _name(data, at)
    kind, at = data[at], at + 1
    if kind == 0:
        _, at = _leb(data, at)
    elif kind == 1:
        _, at = _limits(data, at + 1)
    elif kind == 2:
        _, at = _limits(data, at)
    elif kind == 3:
        at += 2
    else:
        raise PrelinkError(f"import kind {kind}")
    return (module, name, kind), at


def _first_table_size(data: bytes | None) -> int:
    if not data:
        raise PrelinkError("the module defines no table")
    _, at = _leb(data, 0)
    if data[at] != 0x70:
        raise PrelinkError("the first table holds no functions")
    minimum, _ = _limits(data, at + 1)
    return minimum


def _element_segment(data: bytes, at: int) -> tuple[tuple[int, list[int]], int]:
    flags, at = _leb(data, at)
    if flags != 0 or data[at] != 0x41:  # active, table 0, offset `i32.const N; end`, function indices
        raise PrelinkError(f"an element segment of form {flags}")
    offset, at = _leb(data, at + 1, signed=True)
    if data[at] != 0x0B:
        raise PrelinkError("an element segment's offset is not a constant")
    functions, at = _vector_at(data, at + 1, _leb)
    return (offset, functions), at


def _global_value(data: bytes, at: int) -> tuple[int | str | None, int]:
    """A defined global's value as the linker reads it: an i32 constant, "i64", or None (anything else)."""
    value_type, at = data[at], at + 2
    opcode = data[at]
    if opcode in (0x41, 0x42):
        value, at = _leb(data, at + 1, signed=True)
    elif opcode in (0x23, 0xD2):
        value, at = _leb(data, at + 1)
        value = None
    elif opcode == 0x43:
        value, at = None, at + 5
    elif opcode == 0x44:
        value, at = None, at + 9
    elif opcode == 0xD0:
        value, at = None, at + 2
    else:
        raise PrelinkError(f"a global initialized by opcode {opcode:#x}")
    if data[at] != 0x0B:
        raise PrelinkError("a global's initializer is not one instruction")
    at += 1
    if value_type == 0x7F and opcode == 0x41:
        return ((value + 2**31) % 2**32) - 2**31, at
    return ("i64" if value_type == 0x7E else None), at


def _export(data: bytes, at: int) -> tuple[tuple[str, int, int], int]:
    name, at = _name(data, at)
    kind, at = data[at], at + 1
    index, at = _leb(data, at)
    return (name, kind, index), at


def _is_array_index(name: str) -> bool:
    return name.isdigit() and str(int(name)) == name and int(name) < 2**32 - 1
