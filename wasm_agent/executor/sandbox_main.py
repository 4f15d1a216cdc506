"""The sandbox side: drives `CodeRunner` from protocol messages, inside the sandbox's Pyodide.

The JavaScript around it (`web/sandbox/core.js`) hands every request to
`SandboxSession.handle` as JSON text and frames the body it returns
(`{ok, value | error}`) as the request's `result`. Tool stubs call
`call_host(text)` with `{name, args, kwargs}`; the JavaScript frames the
`tool_call` and blocks until the host's `tool_result`: it returns the answer
text (SharedArrayBuffer + Atomics) or a promise, which is waited for with JSPI
(`pyodide.ffi.run_sync`). The envelopes are made there, out of reach of the
code that runs here: that code can shape only its own answers.

Loaded into the sandbox with `errors`, `executor.base`, `executor.runner`
and `executor.protocol` only: it must not import the rest of the package.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ..errors import AgentError
from .protocol import (
    MAX_MESSAGE_CHARS,
    ProtocolError,
    WireClasses,
    decode,
    from_wire,
    to_wire,
)
from .runner import (
    CodeRunner,
    ExecutionInterrupted,
    FinalAnswerSignal,
    make_tool_function,
)

try:  # taken now, before generated code can replace it in sys.modules
    from pyodide.ffi import run_sync
except ImportError:  # not in Pyodide (tests of this module on CPython)
    run_sync = None

# Modules imported before a memory snapshot is taken, so a restored sandbox starts warm.
WARM_IMPORTS = ("ast", "json", "math", "re", "random", "datetime", "collections", "itertools",
                "functools", "statistics", "traceback", "inspect", "contextlib", "typing")


class SandboxSession:
    """One sandbox's state: the runner and its tool stubs.

    `call_host(text)` sends a `tool_call` message and returns the `tool_result`
    text, or an awaitable of it (JSPI). `sleep(ms)`, when given, waits and
    returns True if the interrupt buffer was set meanwhile: it replaces
    `time.sleep`, whose own implementation does not notice interrupts.
    """

    def __init__(self, call_host: Callable[[str], Any], sleep: Callable[[float], bool] | None = None):
        if sleep is not None:
            _replace_sleep(sleep)
        self.call_host = call_host
        self.runner = CodeRunner(capture_std_streams=True)
        self.classes = WireClasses()  # this interpreter's classes it sent out, and stand-ins of the host's

    def handle(self, text: str) -> str:
        """Answer one request: JSON text in, the body of its `result` out (`{ok, value | error}`)."""
        try:
            message = decode(text)
            handler = getattr(self, f"_on_{message['type']}", None)
            if handler is None:
                raise ProtocolError(f"the sandbox does not handle {message['type']!r} messages")
            answer = {"ok": True, "value": handler(message)}
        except KeyboardInterrupt:  # it landed around the code (the runner answers for one within it)
            answer = {"ok": False, "error": {"type": "KeyboardInterrupt", "message": "the request was interrupted"}}
        except BaseException as error:  # noqa: BLE001 - the host gets every failure as a reply
            answer = {"ok": False, "error": {"type": type(error).__name__, "message": str(error)}}
        return _body_capped(answer)

    # -- requests ---------------------------------------------------------------------
    def _on_run(self, message: dict) -> dict:
        self.runner.max_output_chars = int(message.get("max_output_chars") or self.runner.max_output_chars)
        result = self.runner.run(str(message["code"]))
        return {"output": to_wire(result.output, exact=True, classes=self.classes), "logs": result.logs,
                "is_final_answer": result.is_final_answer, "error": result.error}

    def _on_send_tools(self, message: dict) -> None:
        self.runner.set_functions({
            spec["name"]: make_tool_function(spec["name"], spec.get("description", ""), spec.get("inputs", {}),
                                             spec.get("output_type", "any"), self._call_tool)
            for spec in message["tools"]
        })

    def _on_send_variables(self, message: dict) -> None:
        self.runner.set_variables(from_wire(message["variables"], self.classes))

    def _on_reset(self, message: dict) -> None:
        self.runner.reset()
        self.classes = WireClasses()

    def _on_install(self, message: dict) -> None:
        """Unpack pure-Python wheels ({file name: base64 bytes}) into site-packages."""
        import base64
        import importlib
        import io
        import sysconfig
        import zipfile

        target = sysconfig.get_paths()["purelib"]
        for data in message["wheels"].values():
            zipfile.ZipFile(io.BytesIO(base64.b64decode(data))).extractall(target)
        importlib.invalidate_caches()

    # -- tools ------------------------------------------------------------------------
    def _call_tool(self, name: str, args: tuple, kwargs: dict) -> Any:
        answer = self.call_host(json.dumps({"name": name, "args": to_wire(list(args), exact=True, classes=self.classes),
                                            "kwargs": to_wire(kwargs, exact=True, classes=self.classes)},
                                           allow_nan=False))
        if not isinstance(answer, str):
            answer = run_sync(answer)  # JSPI: wait for the promise of the answer
        message = decode(answer)
        if message.get("interrupted"):
            raise ExecutionInterrupted()
        if not message.get("ok"):
            raise AgentError.from_dict(message.get("error") or {})
        value = from_wire(message.get("value"), self.classes)
        if name == "final_answer":
            raise FinalAnswerSignal(value)
        return value


def _replace_sleep(sleep_ms: Callable[[float], bool]) -> None:
    def sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if sleep_ms(float(seconds) * 1000):
            raise ExecutionInterrupted()

    sleep.__doc__ = time.sleep.__doc__
    time.sleep = sleep


def _body_capped(body: dict) -> str:
    """The body as JSON text; a huge value is dropped (and huge logs cut) with a note, so it fits a message."""
    text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    limit = MAX_MESSAGE_CHARS - 1000  # room for the envelope
    if len(text) <= limit:
        return text
    value = body.get("value")
    if isinstance(value, dict) and "output" in value:
        value = {**value, "output": {"$repr": f"<output dropped: the result of {len(text)} characters is over "
                                              f"the {MAX_MESSAGE_CHARS} limit>", "$type": "object"}}
        if len(value.get("logs") or "") > MAX_MESSAGE_CHARS // 2:
            value["logs"] = value["logs"][:MAX_MESSAGE_CHARS // 2] + "\n[logs truncated]"
        return json.dumps({**body, "value": value}, separators=(",", ":"), allow_nan=False)
    return json.dumps({"ok": False, "error": {"type": "ProtocolError",
                                              "message": f"an answer of {len(text)} characters is over the limit"}})
