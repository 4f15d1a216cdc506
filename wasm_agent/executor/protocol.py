"""The sandbox wire protocol: the one definition of what crosses the boundary.

Every message is a JSON object with a `type` from `MESSAGE_TYPES` and, for
requests and their replies, an `id`. The same messages travel between the
host (a `SandboxClient` of web/sandbox-client.js: in the page, in the agent
worker, or in the Deno process CPython drives) and the sandbox worker;
`web/protocol.js` is the JavaScript twin of this module
(`tests/unit/test_protocol.py` checks that both describe the same messages,
field by field: `MESSAGE_FIELDS`, and the host's line protocol in
`HOST_REQUESTS` / `HOST_REPLIES`).

    host → sandbox   run, send_tools, send_variables, reset,    (requests, answered by `result`)
                     install (pure-Python wheels, {file name: base64})
                     tool_result                               (answers a `tool_call`)
                     interrupt, restart                        (no answer; see below)
    sandbox → host   result      {id, ok, value | error}
                     tool_call   {id, name, args, kwargs}     (code called a tool; the host runs it)
                     ready       {startup_ms, snapshot}       (a fresh sandbox can take requests)
                     crashed     {reason}                     (the sandbox died; its state is gone)
                     log         {text}                       (diagnostics, never generated output)

Values are JSON-compatible data made by `to_wire` and read by `from_wire`
(`wire_values.py`: what is not JSON crosses as a marker, and arrives as itself,
a stand-in, or a `RemoteValue` that says so when shown). This module is pure
Python: the sandbox's Pyodide loads it too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from typing import Any

from .wire_values import (  # noqa: F401 - the values of messages: imported from here by both sides
    FLOAT_KEY, MAX_REPR_CHARS, REPR_KEY, TUPLE_KEY, TYPE_KEY, ImageBytes, RemoteObject, RemoteValue, WireClasses,
    from_wire, to_wire)

# Keep in the same order as MESSAGE_TYPES in web/protocol.js.
MESSAGE_TYPES = (
    "run", "send_tools", "send_variables", "reset", "tool_result", "interrupt", "restart",
    "result", "tool_call", "ready", "crashed", "log", "install",
)
REQUEST_TYPES = ("run", "send_tools", "send_variables", "reset", "install")

# Every message's fields and their types: "int", "number", "string", "bool", "list", "object", "any";
# a trailing "?" makes a field optional (absent or null). `decode` checks them; other fields are ignored.
# Keep in step with MESSAGE_FIELDS in web/protocol.js.
MESSAGE_FIELDS: dict[str, dict[str, str]] = {
    "run": {"id": "int", "code": "string", "max_output_chars": "int?"},
    "send_tools": {"id": "int", "tools": "list"},
    "send_variables": {"id": "int", "variables": "object"},
    "reset": {"id": "int"},
    "tool_result": {"id": "int", "ok": "bool", "value": "any?", "error": "object?", "interrupted": "bool?"},
    "interrupt": {},
    "restart": {},
    "result": {"id": "int", "ok": "bool", "value": "any?", "error": "object?"},
    "tool_call": {"id": "int", "name": "string", "args": "list", "kwargs": "object"},
    "ready": {"startup_ms": "number", "snapshot": "bool", "bridge": "string", "interrupts": "bool",
              "phases_ms": "object?", "host_ms": "number?", "spare": "bool?"},
    "crashed": {"reason": "string", "fatal": "bool?"},
    "log": {"text": "string"},
    "install": {"id": "int", "wheels": "object"},
}

# The sandbox host's line protocol (deno/sandbox_host.js, driven by `sandbox.py`): one Deno process
# serves several sandboxes, each a SandboxClient over its own permissionless workers, named by
# `sandbox` in every message. Requests carry an `id` that their `answer` repeats.
HOST_REQUESTS: dict[str, dict[str, str]] = {
    "open": {"sandbox": "int", "options": "object", "tools": "list", "variables": "object", "wheels": "object"},
    "close": {"sandbox": "int"},
    "run": {"sandbox": "int", "id": "int", "code": "string", "timeout_ms": "number?", "max_output_chars": "int?"},
    "send_tools": {"sandbox": "int", "id": "int", "tools": "list"},
    "send_variables": {"sandbox": "int", "id": "int", "variables": "object"},
    "reset": {"sandbox": "int", "id": "int"},
    "install": {"sandbox": "int", "id": "int", "wheels": "object"},
    "interrupt": {"sandbox": "int"},
    "tool_result": {"sandbox": "int", "id": "int", "ok": "bool", "value": "any?", "error": "object?"},
}
# What the host sends back: answers, the sandboxes' tool calls, their events (ready, crashed, log...).
# `stuck`: a worker of `sandbox` was ended while its code still ran; its thread may spin on in the process
# (Deno cannot end a thread busy in wasm), so the process takes no new sandbox and ends once none is in use.
HOST_REPLIES: dict[str, dict[str, str]] = {
    "answer": {"sandbox": "int", "id": "int", "ok": "bool", "value": "any?", "error": "object?"},
    "tool_call": {"sandbox": "int", "id": "int", "name": "string", "args": "list", "kwargs": "object"},
    "event": {"sandbox": "int", "event": "object"},
    "snapshot_failed": {"reason": "string"},
    "stuck": {"sandbox": "int", "reason": "string"},
}
# A message bigger than this is refused; a value that would make one is sent as a truncated repr.
MAX_MESSAGE_CHARS = 16 * 1024 * 1024
# Arrays and objects inside one another, the envelope included: deeper messages are refused unread
# (parsers recurse, and in Pyodide a deep recursion is a fatal error, not an exception).
MAX_MESSAGE_DEPTH = 128


class ProtocolError(RuntimeError):
    """A message broke the protocol (unknown type, missing field, too big)."""


class SandboxDiedError(RuntimeError):
    """The sandbox (or the process holding it) died; pending requests fail with this."""


class RequestTimeoutError(TimeoutError):
    """The other side did not answer a request in time."""


# -- messages -------------------------------------------------------------------
def dumps(value: Any, what: str = "the message") -> str:
    """`value` as compact JSON; what JSON cannot carry (NaN, other types, cycles) raises ProtocolError."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError, RecursionError) as error:
        raise ProtocolError(f"{what} cannot be sent: {error}") from None


def encode(message: dict) -> str:
    """One line of JSON (no raw newlines), refusing unknown types and huge messages."""
    if message.get("type") not in MESSAGE_TYPES:
        raise ProtocolError(f"unknown message type {message.get('type')!r}")
    text = dumps(message)
    check_shape(text)
    return text


# A JSON string (with its escapes) or one bracket: what lies between is neither nesting nor quoting.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_BYTE_TOKENS = re.compile(_TOKENS.pattern.encode(), re.DOTALL)
_OPENING, _CLOSING = frozenset("[{") | frozenset(b"[{"), frozenset("]}") | frozenset(b"]}")


def check_shape(text: str | bytes, max_chars: int = MAX_MESSAGE_CHARS, max_depth: int = MAX_MESSAGE_DEPTH) -> None:
    """Raise `ProtocolError` if `text` is too long or nests deeper than `max_depth`, before any parser
    (recursive) sees it. One loop over its brackets; twin of `checkShape` in web/protocol.js.

    >>> check_shape('{"a": [[1], "]]]]"]}', max_depth=3)
    >>> try:
    ...     check_shape("[" * 4 + "]" * 4, max_depth=3)
    ... except ProtocolError as error:
    ...     print(error)
    message nested deeper than 3 levels
    """
    if len(text) > max_chars:
        raise ProtocolError(f"message of {len(text)} characters is over the {max_chars} limit")
    opening = (b"[", b"{") if isinstance(text, bytes) else ("[", "{")
    if text.count(opening[0]) + text.count(opening[1]) <= max_depth:
        return  # most messages: too few brackets to nest too deep
    depth = 0
    for match in (_BYTE_TOKENS if isinstance(text, bytes) else _TOKENS).finditer(text):
        char = text[match.start()]
        if char in _OPENING:
            depth += 1
            if depth > max_depth:
                raise ProtocolError(f"message nested deeper than {max_depth} levels")
        elif char in _CLOSING:
            depth -= 1


def decode(text: str | bytes, fields: dict[str, dict[str, str]] = MESSAGE_FIELDS,
           max_depth: int = MAX_MESSAGE_DEPTH) -> dict:
    """Parse and check one message (its shape, type and fields); raise `ProtocolError` if it is not one."""
    check_shape(text, max_depth=max_depth)
    try:
        message = json.loads(text)
    except ValueError as error:
        raise ProtocolError(f"not JSON: {error}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str) or message["type"] not in fields:
        raise ProtocolError("not a protocol message (an object with a known `type`)")
    if "id" in message and (not isinstance(message["id"], int) or isinstance(message["id"], bool)):
        raise ProtocolError("`id` must be an integer")
    check_fields(message, fields[message["type"]])
    return message


_FIELD_CHECKS = {
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53,
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
    "string": lambda value: isinstance(value, str),
    "bool": lambda value: isinstance(value, bool),
    "list": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
    "any": lambda value: True,
}


def check_fields(message: dict, description: dict[str, str]) -> None:
    """Raise `ProtocolError` unless `message` has the described fields, of their types (twin of
    `checkFields` in web/protocol.js)."""
    for name, kind in description.items():
        optional = kind.endswith("?")
        value = message.get(name)
        if value is None:
            if optional:
                continue
            raise ProtocolError(f"a {message['type']} message needs `{name}`")
        if not _FIELD_CHECKS[kind.rstrip("?")](value):
            raise ProtocolError(f"`{name}` of a {message['type']} message must be of type {kind.rstrip('?')}")


def request(type: str, id: int, **fields: Any) -> dict:
    if type not in REQUEST_TYPES:
        raise ProtocolError(f"{type!r} is not a request type; use one of {REQUEST_TYPES}")
    return {"type": type, "id": id, **fields}


def reply(id: int, value: Any = None, error: dict | None = None) -> dict:
    """The `result` answering request `id`: a wire value, or an error `{type, message}`."""
    if error is not None:
        return {"type": "result", "id": id, "ok": False, "error": error}
    return {"type": "result", "id": id, "ok": True, "value": value}


class PendingRequests:
    """Requests waiting for their answer: each with a timeout, all rejected when the peer dies.

    >>> pending = PendingRequests()
    >>> async def demo():
    ...     id, future = pending.open()
    ...     pending.resolve({"type": "result", "id": id, "ok": True, "value": 1})
    ...     return await pending.wait(id, future, timeout=1)
    >>> asyncio.run(demo())["value"]
    1
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._futures: dict[int, asyncio.Future] = {}

    def open(self) -> tuple[int, asyncio.Future]:
        id = next(self._ids)
        future = self._futures[id] = asyncio.get_running_loop().create_future()
        return id, future

    async def wait(self, id: int, future: asyncio.Future, timeout: float | None) -> dict:
        """The answer; `RequestTimeoutError` after `timeout` s (the request stays open:
        wait again, or `drop` it)."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise RequestTimeoutError(f"no answer to request {id} within {timeout:g} s") from None

    def drop(self, id: int) -> None:
        future = self._futures.pop(id, None)
        if future is not None and not future.done():
            future.cancel()

    def resolve(self, message: dict) -> bool:
        """Deliver an answer; False when nobody waits for its id (late or forged)."""
        future = self._futures.pop(message.get("id"), None)
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    def reject_all(self, error: BaseException) -> None:
        futures, self._futures = self._futures, {}
        for future in futures.values():
            if not future.done():
                future.set_exception(error)

    def __len__(self) -> int:
        return len(self._futures)
