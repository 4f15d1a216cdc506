"""The Python side of the browser agent worker (web/agent.worker.js).

The worker makes one `AgentSession` per `createAgent(...)`: it builds the
model, the tools (Python tools from source, JS tools that call back to the
page) and the agent, runs tasks, and turns the stream of events into plain
JSON for the page. Everything crossing to JS is a JSON string, so no proxy
outlives a call.

Seams for later work: `MODEL_PROVIDERS` takes new providers (the in-browser
model registers "browser"); `AgentSession.step_callbacks` is where a run store
can save each finished step.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .. import CodeAgent, MultiStepAgent, ToolCallingAgent, models
from ..errors import AgentError, AgentToolExecutionError, ExecutorUnavailableError
from ..events import ActionOutput, ToolOutput
from ..executor import ExecutionLimits, register_sandbox_factory
from ..executor.packages import MissingPackageError, check_installable, with_distribution
from ..executor.packages import wheels_for_imports as _wheels_for_imports
from ..executor.protocol import from_wire, to_wire
from ..memory import ActionStep, FinalAnswerStep, PlanningStep, ToolCall
from ..messages import ChatMessageStreamDelta
from ..providers import PROVIDERS, REMOTE_PROVIDERS
from ..tools import Tool
from ..tools.source import DeclaredTool, tools_from_source
from ..tools.builtin import UserInputTool
from ..tools.web import VisitWebpageTool, WebSearchTool, WikipediaSearchTool
from ..tools.mcp import MCPClient, MCPError
from .browser_sandbox import BrowserSandboxExecutor


def _remote(provider: str) -> Callable[[dict], models.Model]:
    """The factory of an HTTP provider of the registry (wasm_agent/providers.json)."""
    def make(spec: dict) -> models.Model:
        return PROVIDERS[provider].model_class()(spec["model"], api_base=spec.get("baseUrl") or None,
                                                 api_key=spec.get("apiKey") or None, **spec.get("options", {}))
    return make


def _scripted(spec: dict) -> models.Model:
    return models.ScriptedModel(list(spec["responses"]))


def _browser(spec: dict) -> models.Model:
    # The model runs in this worker through web/browser-model.js: publishBrowserModel() must have run.
    return PROVIDERS["browser"].model_class()(**spec.get("options", {}))


# provider name -> factory(model spec from createAgent) -> Model: the registry's, and "scripted" for tests
MODEL_PROVIDERS: dict[str, Callable[[dict], models.Model]] = {
    **{name: _remote(name) for name in REMOTE_PROVIDERS}, "browser": _browser, "scripted": _scripted,
}


def register_model_provider(name: str, factory: Callable[[dict], models.Model]) -> None:
    """Make `createAgent({model: {provider: name, ...}})` build its model with `factory`."""
    MODEL_PROVIDERS[name] = factory


def wheels_for_imports(lock_json: str, names_json: str, distribution_lock_json: str | None = None) -> str:
    """The wheels (`file_name`, `sha256`, `origin`) to install into the sandbox for these imports,
    dependencies first, as JSON: {"wheels": [...]}, or {"error": message} when none provides one.
    With a package distribution's lock (`build --packages-url`), what the site lacks comes from there."""
    lock = json.loads(lock_json)
    source = {}
    if distribution_lock_json:
        lock = with_distribution(lock, json.loads(distribution_lock_json))
        source = {"source": "this site or its package distribution",
                  "hint": "the pinned Pyodide's lock does not list it either"}
    try:
        entries = _wheels_for_imports(lock, json.loads(names_json), **source)
        check_installable(entries)
    except MissingPackageError as error:
        return json.dumps({"error": str(error)})
    return json.dumps({"wheels": [{"file_name": entry["file_name"], "sha256": entry["sha256"],
                                   "origin": entry.get("origin", "site")} for entry in entries]})


class JsTool(DeclaredTool):
    """A tool whose function lives in the page (`createAgent({tools: [{..., fn}]})`)."""

    def __init__(self, spec: dict, call_page: Callable[[str, str], Awaitable[str]]):
        self._call_page = call_page
        super().__init__(spec)

    async def forward(self, **kwargs: Any) -> Any:
        answer = json.loads(await self._call_page(self.name, json.dumps(to_wire(kwargs))))
        if not answer.get("ok"):
            raise AgentToolExecutionError(f"tool {self.name!r} failed in the page: {answer.get('error')}")
        return from_wire(answer.get("value"))


BUILTIN_TOOLS: dict[str, type[Tool]] = {tool.name: tool for tool in (WikipediaSearchTool, VisitWebpageTool,
                                                                    WebSearchTool)}


def builtin_tools(specs: list) -> list[Tool]:
    """`createAgent({builtinTools: ["wikipedia_search", {name: "visit_webpage", corsProxy: "…"}]})`:
    each a name, or a name with the tool's options (camelCase or snake_case)."""
    tools = []
    for spec in specs:
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        name = spec.pop("name", None)
        if name not in BUILTIN_TOOLS:
            raise ValueError(f"unknown built-in tool {name!r}; known: {', '.join(sorted(BUILTIN_TOOLS))}")
        options = {re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), key): value
                   for key, value in spec.items()}
        tools.append(BUILTIN_TOOLS[name](**options))
    return tools


def _page_asker(call_page: Callable[[str, str], Awaitable[str]]) -> Callable[[str], Awaitable[str]]:
    async def ask(question: str) -> str:
        answer = json.loads(await call_page(UserInputTool.name, json.dumps({"question": question})))
        if not answer.get("ok"):
            raise AgentToolExecutionError(f"the user gave no answer: {answer.get('error')}")
        return str(answer.get("value") or "")
    return ask


class AgentSession:
    """One agent of a page: `await session.run(task, emit)`; `interrupt()`; `close()`."""

    def __init__(self, options_json: str, call_page_tool: Callable[[str, str], Awaitable[str]],
                 sandbox_client: Any = None, mcp: MCPClient | None = None):
        options = json.loads(options_json)
        self.sandbox_client = sandbox_client
        self.mcp = mcp  # the MCP servers' connection (open_mcp_servers), closed with the session
        self.executor: BrowserSandboxExecutor | None = None
        self.emit: Callable[[str], None] | None = None
        self.step_callbacks: list[Callable] = []
        # (name, arguments, result or error, ok) of each tool call the sandbox's code makes
        self.tool_use_callbacks: list[Callable[[str, Any, Any, bool], None]] = []
        model_spec = options.get("model") or {}
        provider = model_spec.get("provider", "openai")
        if provider not in MODEL_PROVIDERS:
            raise ValueError(f"unknown model provider {provider!r}; known: {', '.join(sorted(MODEL_PROVIDERS))}")
        model = MODEL_PROVIDERS[provider](model_spec)
        if hasattr(model, "key_source"):  # where this runtime's user sets the key (not an environment variable)
            model.key_source = model_spec.get("keySource") or "the model's apiKey in createAgent"
        tools: list[Tool] = [JsTool(spec, call_page_tool) for spec in options.get("tools", [])]
        for source in options.get("pythonTools", []):
            tools.extend(tools_from_source(source))
        tools.extend(builtin_tools(options.get("builtinTools", [])))
        tools.extend(mcp.get_tools() if mcp is not None else [])
        if options.get("userInput"):  # the page answers: createAgent({onUserInput})
            tools.append(UserInputTool(ask=_page_asker(call_page_tool)))
        # A small model is given fewer steps: more rarely help it, and each costs the visitor time.
        default_steps = 3 if getattr(model, "prompt_variant", None) == "small" else 10
        common = {"max_steps": int(options.get("maxSteps") or default_steps), "instructions": options.get("instructions"),
                  "stream_outputs": options.get("stream", True), "step_callbacks": self.step_callbacks,
                  "planning_interval": options.get("planningInterval") or None}
        if options.get("agentType", "code") == "toolcalling":
            self.agent: MultiStepAgent = ToolCallingAgent(tools, model, **common)
        else:
            register_sandbox_factory(self._make_executor if sandbox_client is not None else None)
            try:
                timeout = options.get("timeoutSeconds")  # of one code step; the executor's default otherwise
                limits = {"limits": ExecutionLimits(timeout_seconds=float(timeout))} if timeout else {}
                self.agent = CodeAgent(tools, model, executor_type="sandbox",
                                       additional_authorized_imports=options.get("additionalAuthorizedImports", ()),
                                       executor_kwargs=limits, **common)
            finally:
                register_sandbox_factory(None)

    def _make_executor(self, **kwargs: Any) -> BrowserSandboxExecutor:
        self.executor = BrowserSandboxExecutor(self.sandbox_client, on_tool_use=self._tool_used, **kwargs)
        return self.executor

    async def answer_tool(self, name: str, args_json: str, kwargs_json: str) -> str:
        if self.executor is None:
            return json.dumps({"ok": False, "error": {"type": "AgentToolCallError", "message": "no executor"}})
        return await self.executor.answer_tool(name, args_json, kwargs_json)

    async def run(self, task: str, emit: Callable[[str], None], reset: bool = True) -> str:
        """Run `task`, calling `emit` with each event as JSON; returns the result as JSON."""
        self.emit = emit
        started = time.time()
        try:
            async for event in self.agent.stream(task, reset=reset):
                data = event_to_dict(event)
                if data is not None:
                    emit(json.dumps(data, default=repr))
        except AgentError as error:
            result = {"output": None, "state": "error", "error": error.to_dict()}
        else:
            last = self.agent.last_result
            result = {"output": to_wire(last.output), "state": last.state}
            ended = [step for step in self.agent.memory.steps if isinstance(step, ActionStep)][-1:]
            if last.state == "max_steps_error" and ended and ended[0].error is not None:
                result["error"] = ended[0].error.to_dict()  # why it stopped: the step limit, or giving up
        finally:
            self.emit = None
        usage = self.agent._total_usage()
        # Steps the model took: a plain "no answer found" after the last one is a record, not a step.
        taken = [step for step in self.agent.memory.steps if isinstance(step, ActionStep)
                 and (step.model_output_message, step.token_usage, step.code_action) != (None, None, None)]
        result.update(steps=len(taken),
                      tokenUsage={"inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens},
                      duration=time.time() - started)
        return json.dumps(result, default=repr)

    def interrupt(self) -> None:
        self.agent.interrupt()

    async def close(self) -> None:
        await self.agent.close()
        if self.mcp is not None:
            await self.mcp.adisconnect()

    def _tool_used(self, name: str, arguments: Any, value: Any, ok: bool) -> None:
        for callback in self.tool_use_callbacks:
            callback(name, arguments, value, ok)
        if self.emit is not None:
            self.emit(json.dumps({"type": "tool_use", "name": name, "arguments": arguments, "ok": ok,
                                  "result": value}, default=repr))


async def open_mcp_servers(servers_json: str) -> MCPClient:
    """Connect to `createAgent({mcpServers: [{url, headers}]})`'s servers and list their tools."""
    client = MCPClient([{"transport": "streamable-http", **server} for server in json.loads(servers_json)])
    await client.aconnect()
    return client


async def mcp_server_tools(server_json: str) -> str:
    """The tools of one MCP server `{url, headers}`, for a settings page, as JSON:
    `{"tools": [{name, description}]}`, or `{"error": message}` when it cannot be reached."""
    client = MCPClient({"transport": "streamable-http", **json.loads(server_json)})
    try:
        await client.aconnect()
        tools = [{"name": tool.name, "description": tool.description} for tool in client.get_tools()]
    except (MCPError, ValueError) as error:
        return json.dumps({"error": str(error)})
    finally:
        await client.adisconnect()
    return json.dumps({"tools": tools})


def event_to_dict(event: Any) -> dict | None:
    """The page's view of one stream event (see wasm_agent.events), or None to skip it."""
    if isinstance(event, ChatMessageStreamDelta):
        return {"type": "delta", "text": event.content} if event.content else None
    if isinstance(event, ToolCall):
        return {"type": "tool_call", "id": event.id, "name": event.name, "arguments": to_wire(event.arguments)}
    if isinstance(event, ToolOutput):
        return {"type": "tool_output", "id": event.id, "observation": event.observation,
                "isFinalAnswer": event.is_final_answer, "output": to_wire(event.output)}
    if isinstance(event, ActionOutput):
        return None  # the step that follows carries the same
    if isinstance(event, ActionStep):
        usage = event.token_usage
        return {"type": "step", "stepNumber": event.step_number, "modelOutput": event.model_output,
                "code": event.code_action, "observations": event.observations,
                "error": event.error.to_dict() if event.error else None, "duration": event.timing.duration,
                "tokenUsage": {"inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens} if usage else None,
                "isFinalAnswer": event.is_final_answer, "toolCalls": [call.to_dict() for call in event.tool_calls or []]}
    if isinstance(event, PlanningStep):
        return {"type": "planning", "plan": event.plan, "duration": event.timing.duration}
    if isinstance(event, FinalAnswerStep):
        return {"type": "final_answer", "output": to_wire(event.output)}
    return None


__all__ = ["MODEL_PROVIDERS", "AgentSession", "ExecutorUnavailableError", "JsTool", "mcp_server_tools",
           "open_mcp_servers", "register_model_provider"]
