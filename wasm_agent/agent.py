"""The agent loop: plan if due, take a step, record it, stop on a final answer.

`MultiStepAgent` holds the loop; `CodeAgent` (actions are Python code) and
`ToolCallingAgent` (actions are native tool calls) each implement one step.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, AsyncIterator, Callable, ClassVar, Iterable, Mapping

from . import platform
from .errors import (AgentError, AgentExecutionError, AgentGenerationError, AgentInterruptedError,
                     AgentMaxStepsError, AgentToolCallError, AgentToolExecutionError,
                     ToolDefinitionError)
from .events import ActionOutput, RunResult, StreamEvent, ToolOutput
from .executor import Executor, create_executor
from .memory import (ActionStep, AgentMemory, FinalAnswerStep, MemoryStep, PlanningStep, SystemPromptStep,
                     TaskStep, Timing, ToolCall)
from .messages import ChatMessage, ChatMessageStreamDelta, MessageRole, TokenUsage, agglomerate_stream_deltas
from .models.base import Model, call_generate
from .parsing import extract_code, parse_json_tool_call
from .prompts import load_prompts, render
from .tools import FinalAnswerTool, Tool, tool as make_tool


class MultiStepAgent:
    """The loop shared by every agent. Use `CodeAgent` or `ToolCallingAgent`."""

    prompt_file: ClassVar[str] = ""
    stop_sequences: ClassVar[list[str]] = []

    def __init__(
        self,
        tools: Iterable[Tool | Callable],
        model: Model,
        *,
        max_steps: int = 20,
        planning_interval: int | None = None,
        managed_agents: Iterable["MultiStepAgent"] = (),
        final_answer_checks: Iterable[Callable] = (),
        step_callbacks: Iterable[Callable] | Mapping[type, Callable | list[Callable]] = (),
        instructions: str | None = None,
        name: str | None = None,
        description: str | None = None,
        prompt_templates: Mapping[str, Any] | None = None,
        stream_outputs: bool = False,
        return_full_result: bool = False,
        provide_run_summary: bool = False,
        verbosity_level: int | None = None,  # accepted for smolagents compatibility; we print nothing
    ):
        self.model = model
        self.max_steps = max_steps
        self.planning_interval = planning_interval
        self.final_answer_checks = list(final_answer_checks)
        self.instructions = instructions
        self.name, self.description = name, description
        if name is not None and not name.isidentifier():
            raise ValueError(f"agent name {name!r} must be a Python identifier: the manager calls it by name")
        self.stream_outputs = stream_outputs
        self.return_full_result = return_full_result
        self.provide_run_summary = provide_run_summary
        # A model may ask for a variant of the prompts (e.g. "small": compact, with few-shot turns).
        variant = getattr(model, "prompt_variant", None)
        self.prompt_templates = {**load_prompts("common"), **load_prompts(self.prompt_file),
                                 **(load_prompts(f"{self.prompt_file}_{variant}") if variant else {}),
                                 **(prompt_templates or {})}
        self.tools = _build_tools(tools)
        self.managed_agents = {agent.name: agent for agent in managed_agents}
        for agent_name, agent in self.managed_agents.items():
            if not agent_name or not agent.description:
                raise ToolDefinitionError("a managed agent needs a `name` and a `description`")
            if agent_name in self.tools:
                raise ToolDefinitionError(f"managed agent {agent_name!r} has the name of a tool")
        self.callables: dict[str, Tool] = {**self.tools, **{n: ManagedAgentTool(a) for n, a in
                                                             self.managed_agents.items()}}
        self.step_callbacks = _callbacks_by_type(step_callbacks)
        self.memory = AgentMemory(self.initialize_system_prompt(), self.prompt_templates.get("few_shot"))
        self.state: dict[str, Any] = {}
        self.task: str | None = None
        self.step_number = 1
        self.interrupt_switch = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_task: asyncio.Task | None = None
        self._in_step = False

    # -- prompts ----------------------------------------------------------------
    def initialize_system_prompt(self) -> str:
        return render(self.prompt_templates["system_prompt"], **self._prompt_variables())

    def _prompt_variables(self) -> dict[str, Any]:
        agents = "\n\n".join(self._describe_tool(ManagedAgentTool(a)) for a in self.managed_agents.values())
        return {
            "tools": "\n\n".join(self._describe_tool(t) for t in self.tools.values()),
            "managed_agents": render(self.prompt_templates["managed_agents_section"], agents=agents)
            if agents else "",
            "instructions": render(self.prompt_templates["instructions_section"], instructions=self.instructions)
            if self.instructions else "",
            "authorized_imports": "",
        }

    def _describe_tool(self, tool: Tool) -> str:
        return tool.to_code_prompt()

    def write_memory_to_messages(self, summary_mode: bool = False) -> list[ChatMessage]:
        return self.memory.to_messages(summary_mode)

    # -- entry points -----------------------------------------------------------
    async def arun(self, task: str | None, *, reset: bool = True, images: Any = None,
                   additional_args: dict | None = None, max_steps: int | None = None,
                   return_full_result: bool | None = None) -> Any:
        """Run the task to its end and return the final answer (or a `RunResult`).

        >>> import asyncio
        >>> from wasm_agent import CodeAgent, ScriptedModel
        >>> agent = CodeAgent([], ScriptedModel(["<code>final_answer(2 + 2)</code>"]), executor_type="inprocess")
        >>> asyncio.run(agent.arun("What is 2 + 2?"))
        4
        """
        async for _ in self._run(task, reset=reset, additional_args=additional_args, max_steps=max_steps):
            pass
        full = self.return_full_result if return_full_result is None else return_full_result
        if not full:
            return self.last_result.output
        self.last_result.steps = self.memory.get_full_steps()
        return self.last_result

    def run(self, task: str | None, *, stream: bool = False, **kwargs: Any) -> Any:
        """Synchronous `arun` (or, with `stream=True`, a synchronous iterator of events).

        Not available inside a running event loop: there, `await agent.arun(...)`.
        """
        if stream:
            return platform.iterate_sync(self.stream(task, **kwargs))
        if not platform.can_block():
            raise RuntimeError("agent.run() cannot block here (an event loop is running, or Pyodide has no "
                               "JSPI); use `await agent.arun(...)` or `agent.stream(...)` instead")
        return platform.block_on(self.arun(task, **kwargs))

    async def stream(self, task: str | None, *, reset: bool = True, additional_args: dict | None = None,
                     max_steps: int | None = None, **_: Any) -> AsyncIterator[StreamEvent]:
        """Yield the run's events as they happen (see `wasm_agent.events`)."""
        async for event in self._run(task, reset=reset, additional_args=additional_args, max_steps=max_steps):
            yield event

    def interrupt(self) -> None:
        """Stop the run: now if code or a model call is running, else before the next step.

        Safe from a step callback, another task or another thread.
        """
        self.interrupt_switch = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._cancel_running_step)

    def __call__(self, task: str, **kwargs: Any) -> Any:
        """Run as a managed agent, synchronously; returns the manager's report."""
        return platform.block_on(ManagedAgentTool(self).forward(task, kwargs.get("additional_args")))

    async def close(self) -> None:
        """Release the executor (a sandbox process or worker)."""

    # -- the loop ---------------------------------------------------------------
    async def _run(self, task: str | None, *, reset: bool, additional_args: dict | None,
                   max_steps: int | None) -> AsyncIterator[StreamEvent]:
        max_steps = max_steps or self.max_steps
        self.interrupt_switch = False
        self._loop, self._run_task = asyncio.get_running_loop(), asyncio.current_task()
        if additional_args:
            self.state.update(additional_args)
        if reset:
            self.memory.reset()
            self.step_number = 1
        self.memory.system_prompt = SystemPromptStep(system_prompt=self.initialize_system_prompt(),
                                                     examples=self.prompt_templates.get("few_shot"))
        if task is not None:
            if additional_args:
                task += ("\nYou have been given these additional arguments, available as variables "
                         f"of the same names in your code:\n{_summarise(additional_args)}")
            self.task = task
            self.memory.steps.append(TaskStep(task=task))
        elif not any(isinstance(step, TaskStep) for step in self.memory.steps):
            raise ValueError("no task: give one, or continue a memory that holds one (reset=False)")
        started = Timing()
        await self._prepare_run(reset)
        final: ActionStep | None = None
        state = "success"
        for _ in range(max_steps):
            if self.interrupt_switch:
                state = "interrupted"
                break
            if self.planning_interval and (self.step_number == 1 or
                                           (self.step_number - 1) % self.planning_interval == 0):
                planning_step = await self._plan(first=self.step_number == 1, remaining=max_steps)
                yield await self._record(planning_step)
            step = ActionStep(step_number=self.step_number, timing=Timing())
            self._in_step = True
            try:
                async for event in self._step_stream(step):
                    yield event
            except AgentGenerationError as error:
                step.error = error
                await self._record(step)
                raise
            except AgentError as error:
                step.error = error
            except asyncio.CancelledError:
                if not self.interrupt_switch:
                    raise
                self._run_task.uncancel()
                step.error = AgentInterruptedError("The run was interrupted by the user.")
                state = "interrupted"
            finally:
                self._in_step = False
            self.step_number += 1
            yield await self._record(step)
            if step.is_final_answer:
                final = step
                break
            if state == "interrupted":
                break
        output = final.action_output if final is not None else None
        if final is None and state == "success":
            state = "max_steps_error"
            step = await self._max_steps_step(max_steps)
            output = step.action_output
            yield step
        final_step = FinalAnswerStep(output=output)
        self.memory.steps.append(final_step)
        await self._run_callbacks(final_step)
        self.last_result = RunResult(output=output, state=state, token_usage=self._total_usage(),
                                     timing=Timing(started.start_time, time.time()))
        yield final_step

    async def _record(self, step: MemoryStep) -> MemoryStep:
        step.timing.end_time = time.time()
        self.memory.steps.append(step)
        await self._run_callbacks(step)
        return step

    async def _run_callbacks(self, step: MemoryStep) -> None:
        for step_type, callbacks in self.step_callbacks:
            if isinstance(step, step_type):
                for callback in callbacks:
                    result = callback(step, agent=self) if _takes_agent(callback) else callback(step)
                    if inspect.isawaitable(result):
                        await result

    def _cancel_running_step(self) -> None:
        if self._in_step and self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()

    def _total_usage(self) -> TokenUsage:
        total = TokenUsage()
        for step in self.memory.steps:
            total = total + getattr(step, "token_usage", None)
        return total

    # -- model calls --------------------------------------------------------------
    async def _generate(self, messages: list[ChatMessage], **kwargs: Any) -> AsyncIterator[Any]:
        """Call the model; yields deltas when streaming, then the whole `ChatMessage`."""
        try:
            if self.stream_outputs and getattr(self.model, "supports_streaming", False):
                deltas: list[ChatMessageStreamDelta] = []
                async for delta in self.model.generate_stream(messages, **kwargs):
                    deltas.append(delta)
                    yield delta
                yield agglomerate_stream_deltas(deltas)
            else:  # one delta with the whole text, so that a UI shows it before the action runs
                message = await call_generate(self.model, messages, **kwargs)
                if message.content:
                    yield ChatMessageStreamDelta(content=message.content)
                yield message
        except (AgentError, asyncio.CancelledError):
            raise
        except Exception as error:  # noqa: BLE001 - any provider failure ends the run clearly
            raise AgentGenerationError(f"The model failed: {type(error).__name__}: {error}") from error

    async def _complete(self, messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        message = None
        async for item in self._generate(messages, **kwargs):
            message = item
        return message

    async def _plan(self, first: bool, remaining: int) -> PlanningStep:
        variables = {**self._prompt_variables(), "task": self.task, "remaining_steps": remaining}
        planning = self.prompt_templates["planning"]
        if first:
            messages = [ChatMessage(MessageRole.USER, render(planning["initial_plan"], **variables))]
        else:
            messages = [ChatMessage(MessageRole.SYSTEM, render(planning["update_plan_pre_messages"], **variables)),
                        *self.write_memory_to_messages(summary_mode=True),
                        ChatMessage(MessageRole.USER, render(planning["update_plan_post_messages"], **variables))]
        step = PlanningStep(model_input_messages=messages, timing=Timing())
        message = await self._complete(messages, stop_sequences=["<end_plan>"])
        step.model_output_message, step.token_usage = message, message.token_usage
        step.plan = (message.content or "").split("<end_plan>")[0].strip()
        return step

    async def _max_steps_step(self, max_steps: int) -> ActionStep:
        """One last call that asks for an answer from what was done; recorded with the error."""
        step = ActionStep(step_number=self.step_number, timing=Timing(),
                          error=AgentMaxStepsError(f"Reached the maximum number of steps ({max_steps})."))
        templates = self.prompt_templates["final_answer"]
        messages = [ChatMessage(MessageRole.SYSTEM, render(templates["pre_messages"])),
                    *self.write_memory_to_messages()[1:],
                    ChatMessage(MessageRole.USER, render(templates["post_messages"], task=self.task))]
        message = await self._complete(messages)
        step.model_output_message, step.token_usage = message, message.token_usage
        step.model_output = step.action_output = message.content
        return await self._record(step)

    async def _check_final_answer(self, answer: Any) -> None:
        for check in self.final_answer_checks:
            try:
                result = check(answer, self.memory, agent=self) if _takes_agent(check) else check(answer, self.memory)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as error:  # noqa: BLE001 - the model is told what the check said
                raise AgentError(f"The final answer was refused by check {_name(check)}: "
                                 f"{type(error).__name__}: {error}") from error
            if not result:
                raise AgentError(f"The final answer was refused by check {_name(check)}. Fix it and answer again.")

    # -- what each agent defines ----------------------------------------------------
    async def _prepare_run(self, reset: bool) -> None:
        """Get ready to act (send tools and variables to the executor...)."""

    def _step_stream(self, step: ActionStep) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError


class CodeAgent(MultiStepAgent):
    """An agent whose actions are Python code, run by an executor.

    >>> from wasm_agent import CodeAgent, ScriptedModel
    >>> model = ScriptedModel(["Thought: easy.\\n<code>final_answer(6 * 7)</code>"])
    >>> CodeAgent(tools=[], model=model, executor_type="inprocess").run("What is 6 times 7?")
    42
    """

    prompt_file = "code_agent"
    stop_sequences = ["Observation:", "Calling tools:", "</code>"]

    def __init__(self, tools: Iterable[Tool | Callable], model: Model, *, executor_type: str = "sandbox",
                 executor: Executor | None = None, additional_authorized_imports: Iterable[str] = (),
                 executor_kwargs: Mapping[str, Any] | None = None, **kwargs: Any):
        self.additional_authorized_imports = list(additional_authorized_imports)
        super().__init__(tools, model, **kwargs)
        self.executor = executor or create_executor(
            executor_type, additional_authorized_imports=self.additional_authorized_imports,
            **(executor_kwargs or {}))
        self._tools_sent = False

    def _prompt_variables(self) -> dict[str, Any]:
        imports = self.additional_authorized_imports
        return {**super()._prompt_variables(),
                "authorized_imports": f", and {', '.join(imports)}" if imports else ""}

    async def _prepare_run(self, reset: bool) -> None:
        if reset:
            await self.executor.reset()
        if not self._tools_sent:
            await self.executor.send_tools(self.callables)
            self._tools_sent = True
        if self.state:
            await self.executor.send_variables(self.state)

    def interrupt(self) -> None:
        super().interrupt()
        self.executor.request_interrupt()  # the loop may be blocked by code running inline

    def _cancel_running_step(self) -> None:
        super()._cancel_running_step()
        if self._in_step and self._loop is not None:
            self._loop.create_task(self.executor.interrupt())

    async def _step_stream(self, step: ActionStep) -> AsyncIterator[StreamEvent]:
        messages = step.model_input_messages = self.write_memory_to_messages()
        message = None
        async for item in self._generate(messages, stop_sequences=self.stop_sequences):
            if isinstance(item, ChatMessage):
                message = item
            else:
                yield item
        step.model_output_message, step.token_usage = message, message.token_usage
        text = message.content or ""
        if "<code>" in text and "</code>" not in text.split("<code>")[-1]:
            text += "</code>"  # the stop sequence ate the closing tag
        step.model_output = text
        code = step.code_action = extract_code(text)
        call = ToolCall(name="python_interpreter", arguments=code, id=f"call_{step.step_number}")
        step.tool_calls = [call]
        yield call
        result = await self.executor.run(code)
        logs = result.logs
        if result.error is not None:
            if logs:
                step.observations = f"Execution logs:\n{logs.rstrip()}"
            raise AgentExecutionError(result.error)
        observation = f"Execution logs:\n{logs.rstrip()}" if logs else ""
        if not result.is_final_answer:
            observation += f"{chr(10) if observation else ''}Last output from code snippet:\n{_short(result.output)}"
        step.observations = observation
        if result.is_final_answer:
            await self._check_final_answer(result.output)
        step.action_output, step.is_final_answer = result.output, result.is_final_answer
        yield ToolOutput(id=call.id, output=result.output, is_final_answer=result.is_final_answer,
                         observation=observation, tool_call=call)
        yield ActionOutput(output=result.output, is_final_answer=result.is_final_answer)

    async def close(self) -> None:
        await self.executor.close()

    async def __aenter__(self) -> "CodeAgent":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class ToolCallingAgent(MultiStepAgent):
    """An agent whose actions are native tool calls (JSON), several per step.

    >>> from wasm_agent import ToolCallingAgent, ScriptedModel, ChatMessage
    >>> answer = ChatMessage(role="assistant", tool_calls=[
    ...     {"id": "1", "function": {"name": "final_answer", "arguments": {"answer": "hi"}}}])
    >>> ToolCallingAgent(tools=[], model=ScriptedModel([answer])).run("Say hi")
    'hi'
    """

    prompt_file = "toolcalling_agent"
    stop_sequences = ["Observation:", "Calling tools:"]

    def _describe_tool(self, tool: Tool) -> str:
        args = ", ".join(f"{name} ({spec['type']}{', optional' if spec.get('nullable') else ''}): "
                         f"{spec['description']}" for name, spec in tool.inputs.items())
        return f"- {tool.name}: {tool.description}\n  Arguments: {args or 'none'}"

    async def _step_stream(self, step: ActionStep) -> AsyncIterator[StreamEvent]:
        messages = step.model_input_messages = self.write_memory_to_messages()
        message = None
        async for item in self._generate(messages, stop_sequences=self.stop_sequences,
                                         tools=list(self.callables.values())):
            if isinstance(item, ChatMessage):
                message = item
            else:
                yield item
        step.model_output_message, step.token_usage = message, message.token_usage
        step.model_output = message.content
        if message.tool_calls:
            calls = [ToolCall(c.name, c.parsed_arguments(), c.id) for c in message.tool_calls]
        else:
            name, arguments = parse_json_tool_call(message.content)
            calls = [ToolCall(name, arguments, f"call_{step.step_number}")]
        step.tool_calls, step.native_tool_calls = calls, True
        for call in calls:
            yield call
        if len(calls) == 1:  # the common case; gather would cost more than the call
            outcomes = [await self._call_tool(calls[0])]
        else:
            outcomes = await asyncio.gather(*(self._call_tool(call) for call in calls))
        errors = [error for _, _, error in outcomes if error is not None]
        for call, (output, is_final, error) in zip(calls, outcomes):
            call.observation = f"Error: {error.message}" if error else _short(output)
            yield ToolOutput(id=call.id, output=output, is_final_answer=is_final, observation=call.observation,
                             tool_call=call)
        step.observations = "\n".join(call.observation for call in calls)
        if errors:
            raise errors[0]
        final = [output for output, is_final, _ in outcomes if is_final]
        if final:
            await self._check_final_answer(final[-1])
            step.action_output, step.is_final_answer = final[-1], True
            yield ActionOutput(output=final[-1], is_final_answer=True)

    async def _call_tool(self, call: ToolCall) -> tuple[Any, bool, AgentError | None]:
        """Run one call; returns (output, is_final_answer, error)."""
        tool = self.callables.get(call.name)
        if tool is None:
            return None, False, AgentToolCallError(
                f"Unknown tool {call.name!r}; the tools are: {', '.join(self.callables)}.")
        arguments = call.arguments
        try:
            if isinstance(arguments, dict):
                output = await tool.acall(**arguments)
            elif len(tool.inputs) == 1 and arguments is not None:
                output = await tool.acall(arguments)
            else:
                output = await tool.acall()
        except AgentToolCallError as error:
            return None, False, error
        except (AgentGenerationError, asyncio.CancelledError):
            raise
        except Exception as error:  # noqa: BLE001 - the model is told, and tries again
            return None, False, AgentToolExecutionError(
                f"Error executing tool {call.name!r} with arguments {_short(arguments, 200)}: "
                f"{type(error).__name__}: {error}")
        return output, call.name == "final_answer", None


class ManagedAgentTool(Tool):
    """Lets a manager call an agent like a tool: task in, report out."""

    output_type = "string"

    def __init__(self, agent: MultiStepAgent):
        self.agent = agent
        self.name, self.description = agent.name or "", agent.description or ""
        self.inputs = {
            "task": {"type": "string", "description": "The task, in detail: the member sees only this."},
            "additional_args": {"type": "object", "nullable": True,
                                "description": "Data to pass to the member, as variables."},
        }
        super().__init__()

    async def forward(self, task: str, additional_args: dict | None = None) -> str:
        templates = self.agent.prompt_templates["managed_agent"]
        full_task = render(templates["task"], name=self.name, task=task)
        output = await self.agent.arun(full_task, additional_args=additional_args)
        report = render(templates["report"], name=self.name, final_answer=output)
        if self.agent.provide_run_summary:
            summary = "\n".join(m.content or "" for m in self.agent.write_memory_to_messages(summary_mode=True))
            report += f"\n\nSummary of the work of {self.name}:\n{summary}"
        return report


# -- helpers ------------------------------------------------------------------------

def _build_tools(tools: Iterable[Tool | Callable]) -> dict[str, Tool]:
    built: dict[str, Tool] = {}
    for item in tools:
        if not isinstance(item, Tool):
            if not callable(item):
                raise ToolDefinitionError(f"{item!r} is not a Tool or a function")
            item = make_tool(item)
        item.validate()
        if item.name in built:
            raise ToolDefinitionError(f"two tools are named {item.name!r}")
        built[item.name] = item
    built.setdefault("final_answer", FinalAnswerTool())
    return built


def _callbacks_by_type(callbacks: Any) -> list[tuple[type, list[Callable]]]:
    if isinstance(callbacks, Mapping):
        return [(step_type, list(cbs) if isinstance(cbs, (list, tuple)) else [cbs])
                for step_type, cbs in callbacks.items()]
    callbacks = list(callbacks)
    return [(ActionStep, callbacks), (PlanningStep, callbacks), (FinalAnswerStep, callbacks)] if callbacks else []


def _takes_agent(function: Callable) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "agent" or p.kind is p.VAR_KEYWORD for p in parameters)


def _name(function: Callable) -> str:
    return getattr(function, "__name__", type(function).__name__)


def _short(value: Any, limit: int = 20_000) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _summarise(values: Mapping[str, Any]) -> str:
    return "\n".join(f"- {key}: {type(value).__name__} {_short(value, 200)}" for key, value in values.items())
