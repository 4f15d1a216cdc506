"""Rebuilding code state on resume: record what tools answered, replay code with those answers.

While a run is saved, the tools that code calls are wrapped by `RecordingTool`,
which notes each call and its output on the step. On resume, the earlier
successful code runs again in a fresh executor with `ReplayTool`s that give
back the recorded outputs, so variables come back and no tool is called twice.
Replay stops at the first step it cannot reproduce (an output that was not
JSON, a different call, an error), and the model is told what was lost.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from .tools.base import Tool


class _Wrapper(Tool):
    """A tool standing for another one, with its name, description and schema."""

    skip_forward_signature_validation = True

    def __init__(self, inner: Tool):
        self.inner = inner
        self.name, self.description = inner.name, inner.description
        self.inputs, self.output_type = inner.inputs, inner.output_type
        super().__init__()


class RecordingTool(_Wrapper):
    """Calls the tool and appends `{"name", "arguments", "output", "json"}` to `log`."""

    def __init__(self, inner: Tool, log: list[dict]):
        super().__init__(inner)
        self.log = log

    def forward(self, **arguments: Any) -> Any:
        result = self.inner.forward(**arguments)
        if inspect.isawaitable(result):
            return self._record_when_done(arguments, result)
        self._record(arguments, result)
        return result

    async def _record_when_done(self, arguments: dict, awaitable: Any) -> Any:
        result = await awaitable
        self._record(arguments, result)
        return result

    def _record(self, arguments: dict, output: Any) -> None:
        try:
            exact = json.loads(json.dumps(output)) == output
        except (TypeError, ValueError):
            exact = False
        self.log.append({"name": self.name, "arguments": _plain(arguments), "output": output if exact else repr(output),
                         "json": exact})

    @property
    def is_async(self) -> bool:  # keeps the executor's fast path for sync tools
        return self.inner.is_async


class ReplayDiverged(Exception):
    """The replayed code made a call that the record does not have."""


class ReplayTool(_Wrapper):
    """Answers from the recorded calls of one step, in order; never calls the tool."""

    def __init__(self, inner: Tool, records: list[dict]):
        super().__init__(inner)
        self.records = records  # shared by the step's replay tools, consumed in order

    def forward(self, **arguments: Any) -> Any:
        if not self.records:
            raise ReplayDiverged(f"replay called {self.name}() more often than the run did")
        record = self.records.pop(0)
        if record["name"] != self.name or record["arguments"] != _plain(arguments):
            raise ReplayDiverged(f"replay called {self.name}({_plain(arguments)}), the run had called "
                                 f"{record['name']}({record['arguments']})")
        return record["output"]


def can_replay(records: list[dict] | None) -> bool:
    """True when every recorded output can be given back exactly."""
    return all(record.get("json") for record in records or ())


def _plain(arguments: dict) -> Any:
    """Arguments as JSON data, the way they are stored."""
    return json.loads(json.dumps(arguments, default=repr))
