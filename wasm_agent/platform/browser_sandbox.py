"""The executor of the browser agent worker: generated code runs in the sandbox iframe.

A thin adapter over `SandboxClient` (web/sandbox-client.js), which speaks the
sandbox protocol over the MessagePort the page hands to the agent worker. The
client does the hard parts (timeouts, interrupt buffer or restart, warm
spare); this class maps the executor contract (DESIGN §4) onto it and
answers the sandbox's tool calls with the agent's tools, here in the worker.

The agent worker registers it with `register_sandbox_factory`, so that
`executor_type="sandbox"` means this sandbox in a browser.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from js import JSON, Object  # type: ignore[import-not-found]
from pyodide.ffi import create_once_callable, to_js  # type: ignore[import-not-found]

from ..errors import AgentError, AgentToolCallError, AgentToolExecutionError
from ..executor.base import CodeOutput, ExecutionLimits, Executor
from ..executor.protocol import RemoteValue, WireClasses, from_wire, to_wire


def _js(value: Any) -> Any:
    return to_js(value, dict_converter=Object.fromEntries)


class BrowserSandboxExecutor(Executor):
    """Runs code through a JS `SandboxClient`; state lives in the sandbox between steps.

    `on_tool_use(name, arguments, result_or_error, ok)` is told about every tool
    call the code makes (the UI shows them).
    """

    def __init__(self, client: Any, additional_authorized_imports: tuple[str, ...] | list[str] = (),
                 limits: ExecutionLimits | None = None, *,
                 on_tool_use: Callable[[str, dict, Any, bool], None] | None = None, **_: Any):
        self.client = client
        self.additional_authorized_imports = list(additional_authorized_imports)
        self.limits = limits or ExecutionLimits()
        self.on_tool_use = on_tool_use
        self.tools: dict[str, Any] = {}
        self.classes = WireClasses()  # what values from the sandbox may be rebuilt as: new for each run
        self._idle: asyncio.Event | None = None  # set while no run is under way in the client

    async def send_tools(self, tools: Mapping[str, Any]) -> None:
        self.tools = dict(tools)
        specs = [{"name": name, "description": tool.description, "inputs": tool.inputs,
                  "output_type": tool.output_type} for name, tool in self.tools.items()]
        await self.client.sendTools(_js(specs))

    async def send_variables(self, variables: Mapping[str, Any]) -> None:
        await self.client.sendVariables(_js(to_wire(dict(variables), exact=True, classes=self.classes)))

    async def reset(self) -> None:
        await self._previous_run()
        self.classes = WireClasses()  # no class an earlier run (or agent) was sent is rebuilt in this one
        await self.client.reset()

    async def run(self, code: str) -> CodeOutput:
        await self._previous_run()
        timeout = self.limits.timeout_seconds
        idle = self._idle
        idle.clear()
        promise = self.client.run(code, _js({"timeoutMs": None if timeout is None else timeout * 1000}))
        # Set from JS when the run settles, even if the step awaiting it was cancelled (interrupted).
        promise.finally_(create_once_callable(idle.set))
        answer = json.loads(JSON.stringify(await promise))  # JS null must become None, not jsnull
        output = from_wire(answer.get("output"), self.classes)
        result = CodeOutput(output=output, logs=answer.get("logs") or "",
                            is_final_answer=bool(answer.get("is_final_answer")), error=answer.get("error"))
        if isinstance(output, RemoteValue) and not result.is_final_answer:
            result.logs += f"\n[the last value is {output.note}]"
        return result

    async def interrupt(self) -> None:
        await self.client.interrupt()

    def request_interrupt(self) -> None:
        self.client.interrupt()  # returns a promise; the stop itself needs nothing from us

    async def close(self) -> None:
        self.tools = {}

    async def answer_tool(self, name: str, args_json: str, kwargs_json: str) -> str:
        """A tool call from the sandbox: run the tool here; answer `{"ok", "value" | "error"}` as JSON."""
        tool = self.tools.get(name)
        args, kwargs = from_wire(json.loads(args_json), self.classes), from_wire(json.loads(kwargs_json), self.classes)
        try:
            if tool is None:
                raise AgentToolCallError(f"unknown tool {name!r}; the tools are: {', '.join(self.tools)}")
            value = await tool.acall(*args, **kwargs)
            answer = {"ok": True, "value": to_wire(value, exact=True, classes=self.classes)}
        except AgentError as error:
            answer = {"ok": False, "error": error.to_dict()}
        except Exception as error:  # noqa: BLE001 - the model should see what failed
            answer = {"ok": False, "error": AgentToolExecutionError(f"{type(error).__name__}: {error}").to_dict()}
        if self.on_tool_use is not None and name != "final_answer":  # for a page: plain data
            arguments = tool.bind_arguments(tuple(args), kwargs) if answer["ok"] else {"args": args, **kwargs}
            shown = to_wire(value) if answer["ok"] else answer["error"]
            self.on_tool_use(name, to_wire(arguments), shown, answer["ok"])
        return json.dumps(answer)

    async def _previous_run(self) -> None:
        """A cancelled (interrupted) run may still be stopping: the client takes one run at a time."""
        if self._idle is None:
            self._idle = asyncio.Event()
            self._idle.set()
        await self._idle.wait()
