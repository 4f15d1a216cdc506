"""The agent loop: plan if due, take a step, record it, stop on a final answer.

`MultiStepAgent` holds the loop; `CodeAgent` (actions are Python code) and
`ToolCallingAgent` (actions are native tool calls) each implement one step. Its calls to the model
are in `agent_model_calls.py`, its durable runs (store, resume) in `durable.py`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, AsyncIterator, Callable, ClassVar, Iterable, Mapping

from . import platform
from .errors import AgentError, AgentGenerationError, AgentInterruptedError, AgentMaxStepsError
from .context import ContextBudget, fit_steps
from .events import ActionOutput, RunResult, StreamEvent
from .memory import (ActionStep, AgentMemory, CallbackRegistry, FinalAnswerStep, MemoryStep, SystemPromptStep,
                     TaskStep, Timing)
from .agent_types import handle_agent_output_types
from .messages import ChatMessage, TokenUsage, content_text
from .models.base import Model
from .monitoring import AgentLogger, LogLevel, Monitor
from .agent_model_calls import ModelCalls
from .durable import DurableRuns
from .persistence import RunStore
from .prompts import few_shot_for, load_prompts, render
from .agent_tools import ManagedAgentTool, build_callables, build_tools  # noqa: F401 - ManagedAgentTool is re-exported
from .tools import Tool
from .unavailable import HUB_ADVICE


class MultiStepAgent(ModelCalls, DurableRuns):
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
        run_store: RunStore | None = None,
        verbosity_level: int | None = None,
        logger: AgentLogger | None = None,
        add_base_tools: bool = False,
    ):
        if add_base_tools:
            raise ValueError("wasm-agent ships no base tools (web search, …): pass the tools you need")
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
        self.run_store = run_store  # when set, each finished step is saved before the next model call
        self.run_id: str | None = None
        self._saved_steps = 0  # how many of memory.steps the store has
        self.save_error: str | None = None  # why this run stopped being saved (quota, disk full…), if it did
        # A model may ask for a variant of the prompts (e.g. "small": compact, with few-shot turns).
        variant = getattr(model, "prompt_variant", None)
        variant = variant if isinstance(variant, str) else None  # a stand-in model (a mock) has none
        files = ["common", self.prompt_file, f"{self.prompt_file}_{variant}" if variant else ""]
        defaults = {key: value for name in files if name for key, value in load_prompts(name).items()}
        # smolagents' keys, given ones first; our own parts (sections, few-shot turns) stay out of the dict.
        self.prompt_templates = dict(prompt_templates or {})
        self.prompt_templates.update({key: defaults[key] for key in _TEMPLATE_KEYS
                                      if key in defaults and key not in self.prompt_templates})
        self._prompt_parts = {key: self.prompt_templates.get(key, value) for key, value in defaults.items()
                              if key not in _TEMPLATE_KEYS}
        self.tools = build_tools(tools)
        self.managed_agents = {agent.name: agent for agent in managed_agents}
        self.callables = build_callables(self.tools, self.managed_agents, self.name)
        if verbosity_level is None:  # like smolagents: progress on the console; in a page, the UI shows it
            verbosity_level = LogLevel.OFF if platform.IN_PYODIDE else LogLevel.INFO
        self.logger = logger or AgentLogger(level=verbosity_level)
        self.monitor = Monitor(self.model, self.logger)
        self._setup_step_callbacks(step_callbacks)
        self.memory = AgentMemory(self.initialize_system_prompt(), self._few_shot(None))
        self.state: dict[str, Any] = {}
        self.task: str | None = None
        self.step_number = 0
        self.interrupt_switch = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_task: asyncio.Task | None = None
        self._in_step = False

    # -- prompts ----------------------------------------------------------------
    def initialize_system_prompt(self) -> str:
        return render(self.prompt_templates["system_prompt"], **self._prompt_variables())

    def _few_shot(self, task: str | None) -> list[dict] | None:
        return few_shot_for(self._prompt_parts.get("few_shot"), task, self._prompt_parts.get("few_shot_shown"))

    def _prompt_variables(self) -> dict[str, Any]:
        agents = "\n\n".join(self._describe_tool(ManagedAgentTool(a)) for a in self.managed_agents.values())
        return {
            "tools": "\n\n".join(self._describe_tool(t) for t in self.tools.values()),
            "managed_agents": render(self._prompt_parts["managed_agents_section"], agents=agents)
            if agents else "",
            "instructions": render(self._prompt_parts["instructions_section"], instructions=self.instructions)
            if self.instructions else "",
            "authorized_imports": "",
        }

    def _describe_tool(self, tool: Tool) -> str:
        return tool.to_code_prompt(python_types=True)  # the model writes Python: it reads Python type names

    @property
    def system_prompt(self) -> str:
        """The system prompt as this agent's tools and instructions make it now (read-only)."""
        return self.initialize_system_prompt()

    @system_prompt.setter
    def system_prompt(self, value: str) -> None:
        raise AttributeError("The 'system_prompt' property is read-only. "
                             "Use 'self.prompt_templates[\"system_prompt\"]' instead.")

    def write_memory_to_messages(self, summary_mode: bool = False) -> list[ChatMessage]:
        """The memory as messages, fitted to the model's context (older steps shortened first)."""
        return fit_steps(self.memory.system_prompt, self.memory.steps, self.context_budget, summary_mode)

    @property
    def context_budget(self) -> ContextBudget:
        """The model's context window and reply size (`model.max_context_tokens`, `max_tokens`)."""
        return ContextBudget.for_model(self.model)

    def to_dict(self) -> dict:
        """The agent as plain data: settings, model, tools as source, managed agents (see `from_dict`)."""
        from .agent_config import agent_to_dict

        return agent_to_dict(self)

    @classmethod
    def from_dict(cls, agent_dict: dict, **kwargs: Any) -> "MultiStepAgent":
        """The agent that `to_dict()` described (keyword arguments override what it says)."""
        from .agent_config import agent_from_dict

        return agent_from_dict(cls, agent_dict, **kwargs)

    # -- entry points -----------------------------------------------------------
    async def arun(self, task: str | None, *, reset: bool = True, images: Any = None,
                   additional_args: dict | None = None, max_steps: int | None = None,
                   return_full_result: bool | None = None) -> Any:
        """Run the task to its end and return the final answer (or a `RunResult`).

        >>> import asyncio
        >>> from wasm_agent import CodeAgent, ScriptedModel
        >>> agent = CodeAgent([], ScriptedModel(["<code>final_answer(2 + 2)</code>"]), executor_type="inprocess",
        ...                   verbosity_level=0)
        >>> asyncio.run(agent.arun("What is 2 + 2?"))
        4
        """
        try:
            async for _ in self._run(task, reset=reset, additional_args=additional_args, max_steps=max_steps,
                                     images=images):
                pass
        finally:
            await self._after_run()
        full = self.return_full_result if return_full_result is None else return_full_result
        if not full:
            if self.last_result.state == "interrupted":  # a bare answer cannot say so: raise, as smolagents does
                raise AgentInterruptedError("Agent interrupted.")
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
                     max_steps: int | None = None, images: Any = None, **_: Any) -> AsyncIterator[StreamEvent]:
        """Yield the run's events as they happen (see `wasm_agent.events`)."""
        try:
            async for event in self._run(task, reset=reset, additional_args=additional_args, max_steps=max_steps,
                                         images=images):
                yield event
        finally:
            await self._after_run()

    async def astep(self, memory_step: ActionStep) -> ActionOutput:
        """Take one action step on the memory as it is, filling `memory_step` (not appended: the caller
        appends it, as smolagents' step-by-step loop does; no step callbacks run). Returns its
        `ActionOutput`; an error raises.

        >>> import asyncio
        >>> from wasm_agent import CodeAgent, ScriptedModel, TaskStep
        >>> agent = CodeAgent([], ScriptedModel(["<code>final_answer(6 * 7)</code>"]), executor_type="inprocess",
        ...                   verbosity_level=0)
        >>> agent.memory.steps.append(TaskStep(task="Multiply"))
        >>> asyncio.run(agent.astep(ActionStep(step_number=1)))
        ActionOutput(output=42, is_final_answer=True)
        """
        await self._prepare_run(reset=False)
        output = ActionOutput(output=None, is_final_answer=False)
        async for event in self._step_stream(memory_step):
            if isinstance(event, ActionOutput):
                output = event
        memory_step.timing.end_time = time.time()
        return output

    def step(self, memory_step: ActionStep) -> ActionOutput:
        """Synchronous `astep` (smolagents' `step`: one step, driven by your own loop)."""
        if not platform.can_block():
            raise RuntimeError("agent.step() cannot block here; use `await agent.astep(memory_step)`")
        return platform.block_on(self.astep(memory_step))

    def push_to_hub(self, repo_id: str, *args: Any, **kwargs: Any) -> str:
        """Not offered: smolagents uploads the agent to a Hugging Face Space that runs it with Gradio."""
        raise NotImplementedError(HUB_ADVICE)

    @classmethod
    def from_hub(cls, repo_id: str, *args: Any, **kwargs: Any) -> "MultiStepAgent":
        """Not offered: agents are not loaded from the Hugging Face Hub (see `push_to_hub`)."""
        raise NotImplementedError(HUB_ADVICE)

    def interrupt(self) -> None:
        """Stop the run: now if code or a model call is running, else before the next step.

        Safe from a step callback, another task or another thread.
        """
        self.interrupt_switch = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._cancel_running_step)

    def __call__(self, task: str, **kwargs: Any) -> str:
        """Run as a managed agent, synchronously; returns the report its manager reads."""
        full_task = render(self.prompt_templates["managed_agent"]["task"], name=self.name, task=task)
        return self.managed_report(self.run(full_task, **kwargs))

    def managed_report(self, output: Any) -> str:
        """What a manager is told of this agent's run: its answer (and, with provide_run_summary, its steps)."""
        report = render(self.prompt_templates["managed_agent"]["report"], name=self.name, final_answer=output)
        if self.provide_run_summary:
            report += "\n\nFor more detail, find below a summary of this agent's work:\n<summary_of_work>\n"
            for message in self.write_memory_to_messages(summary_mode=True):
                report += f"\n{_short(content_text(message.content))}\n---"
            report += "\n</summary_of_work>"
        return report

    async def close(self) -> None:
        """Release the executor (a sandbox process or worker)."""

    # -- the loop ---------------------------------------------------------------
    async def _run(self, task: str | None, *, reset: bool, additional_args: dict | None,
                   max_steps: int | None, images: Any = None) -> AsyncIterator[StreamEvent]:
        max_steps = max_steps or self.max_steps
        self.interrupt_switch = False
        self.save_error = None
        self._loop, self._run_task = asyncio.get_running_loop(), asyncio.current_task()
        if additional_args:
            self.state.update(additional_args)
        if reset:
            self.memory.reset()
            self.monitor.reset()
        if reset or self.step_number == 0:
            self.step_number = 1
        self.memory.system_prompt = SystemPromptStep(system_prompt=self.initialize_system_prompt(),
                                                     examples=self._few_shot(task or self.task))
        if task is not None:
            if additional_args:
                task += ("\nYou have been given these additional arguments, available as variables "
                         f"of the same names in your code:\n{_summarise(additional_args)}")
            self.task = task
            self.memory.steps.append(TaskStep(task=task, task_images=list(images) if images else None))
            self.logger.log_task(task.strip(), subtitle=f"{type(self.model).__name__} - {self.model.model_id}",
                                 title=self.name, level=LogLevel.INFO)
        elif not any(isinstance(step, TaskStep) for step in self.memory.steps):
            raise ValueError("no task: give one, or continue a memory that holds one (reset=False)")
        if reset or self.run_id is None:
            self.run_id, self._saved_steps = None, 0
        await self._save("running")
        started = Timing()
        await self._prepare_run(reset)
        final: ActionStep | None = None
        gave_up: ActionStep | None = None  # a step that repeated the failure of the one before
        state = "success"
        for _ in range(max_steps):
            if self.interrupt_switch:
                state = "interrupted"
                break
            if self.planning_interval and (self.step_number == 1 or
                                           (self.step_number - 1) % self.planning_interval == 0):
                # The initial plan when the memory holds only this task; else an update from what it holds.
                planning_step = await self._plan(first=len(self.memory.steps) == 1,
                                                 remaining=max_steps - self.step_number + 1)
                yield await self._record(planning_step)
                if self.interrupt_switch:  # stopped from a callback that read the plan: no action follows
                    state = "interrupted"
                    break
            step = ActionStep(step_number=self.step_number, timing=Timing())
            if self.logger.level >= LogLevel.INFO:  # quiet: build no text
                self.logger.log_rule(f"Step {self.step_number}", level=LogLevel.INFO)
            self._in_step = True
            try:
                async for event in self._step_stream(step):
                    yield event
            except AgentGenerationError as error:
                step.error = error
                await self._record(step)
                await self._save("error")
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
            if self.interrupt_switch:
                state = "interrupted"
                break
            if state == "interrupted":
                break
            if self._repeats_a_failure(step):
                gave_up = step
                break
        output = handle_agent_output_types(final.action_output) if final is not None else None
        if final is None and self.interrupt_switch:
            state = "interrupted"
        if final is None and state == "success":
            state = "max_steps_error"
            self._in_step = True  # Stop reaches this last model call too
            try:
                step = await self._max_steps_step(max_steps, repeated=gave_up)
                output = step.action_output
                yield step
            except asyncio.CancelledError:
                if not self.interrupt_switch:
                    raise
                self._run_task.uncancel()
                state, output = "interrupted", None
            finally:
                self._in_step = False
        final_step = FinalAnswerStep(output=output)  # yielded and saved; memory keeps the steps that happened
        await self._save(state, final_step)
        await self._run_callbacks(final_step)
        if state == "success":
            self.logger.log(f"Final answer: {_short(output, 2_000)}", level=LogLevel.INFO)
        usage = self._total_usage() if any(getattr(s, "token_usage", None) for s in self.memory.steps) else None
        self.last_result = RunResult(output=output, state=state, token_usage=usage,
                                     timing=Timing(started.start_time, time.time()), save_error=self.save_error)
        yield final_step

    async def _record(self, step: MemoryStep) -> MemoryStep:
        step.timing.end_time = time.time()
        self.memory.steps.append(step)
        if isinstance(step, ActionStep):
            self._log_step(step)
        if self.run_store is not None:  # (no coroutine to make at every step when nothing is saved)
            await self._save("running")
        for pending in self._finalize_step(step):
            await pending
        return step

    def _log_step(self, step: ActionStep) -> None:
        if self.logger.level < LogLevel.ERROR:  # quiet: build no text
            return
        if step.model_output:
            self.logger.log_markdown(step.model_output, title="Output message of the LLM:", level=LogLevel.DEBUG)
        if step.code_action:
            self.logger.log_code("Executing parsed code:", step.code_action, level=LogLevel.INFO)
        if step.observations:
            self.logger.log(step.observations, level=LogLevel.INFO)
        if step.error is not None:
            self.logger.log_error(step.error.message)

    def _setup_step_callbacks(self, step_callbacks: Any) -> None:
        """A plain list is called after each action step; a dict maps step classes to callbacks."""
        self.step_callbacks = CallbackRegistry()
        if isinstance(step_callbacks, Mapping):
            for step_type, callbacks in step_callbacks.items():
                for callback in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
                    self.step_callbacks.register(step_type, callback)
        else:
            for callback in step_callbacks or ():
                self.step_callbacks.register(ActionStep, callback)
        self.step_callbacks.register(ActionStep, self.monitor.update_metrics)

    def _finalize_step(self, step: MemoryStep) -> list[Any]:
        """Close the step's timing and call its callbacks; returns what async callbacks left to await."""
        timing = getattr(step, "timing", None)
        if isinstance(timing, Timing) and timing.end_time is None:
            timing.end_time = time.time()
        return [result for result in self.step_callbacks.callback(step, agent=self)
                if result is not None and inspect.isawaitable(result)]

    async def _run_callbacks(self, step: MemoryStep) -> None:
        for pending in self._finalize_step(step):
            await pending

    def _cancel_running_step(self) -> None:
        if self._in_step and self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()

    def _total_usage(self) -> TokenUsage:
        total = TokenUsage()
        for step in self.memory.steps:
            total = total + getattr(step, "token_usage", None)
        return total

    def _repeats_a_failure(self, step: ActionStep) -> bool:
        """True when the agent gives up early (prompts with `give_up`, e.g. small models) and `step`
        failed exactly as the step before it did: same code, same error. More steps would not help."""
        if "give_up" not in self._prompt_parts or step.error is None:
            return False
        earlier = [s for s in self.memory.steps if isinstance(s, ActionStep) and s is not step]
        before = earlier[-1] if earlier else None
        return (before is not None and before.error is not None and before.code_action == step.code_action
                and before.error.message == step.error.message)

    async def _max_steps_step(self, max_steps: int, repeated: ActionStep | None = None) -> ActionStep:
        """After the last step without an answer: one last call that asks for an answer from what was
        done, or (prompts with `give_up`) a plain statement that no answer was found. Recorded with the error."""
        step = ActionStep(step_number=self.step_number, timing=Timing(),
                          error=AgentMaxStepsError(f"Reached the maximum number of steps ({max_steps})."))
        if "give_up" in self._prompt_parts:
            reason = (f"step {repeated.step_number} failed exactly like the step before it (same code, same error)"
                      if repeated is not None else f"{max_steps} steps gave no answer")
            step.error = AgentMaxStepsError(render(self._prompt_parts["give_up"], reason=reason))
            return await self._record(step)
        message = await self._final_answer_message(self.task)
        step.token_usage, step.action_output = message.token_usage, message.content
        return await self._record(step)

    def provide_final_answer(self, task: str) -> ChatMessage:
        """Ask the model for a final answer from the memory so far (what a run does at max_steps)."""
        return platform.block_on(self._final_answer_message(task))

    def replay(self, detailed: bool = False) -> None:
        """Print the steps of the last run again (with `detailed`, each step's model input too)."""
        self.memory.replay(self.logger, detailed=detailed)

    async def _check_final_answer(self, answer: Any) -> None:
        for check in self.final_answer_checks:
            try:
                result = check(answer, self.memory, agent=self) if _takes_agent(check) else check(answer, self.memory)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as error:  # noqa: BLE001 - the model is told what the check said
                raise AgentError(f"Check {_name(check)} failed with error: {type(error).__name__}: {error}. "
                                 "The final answer was refused: fix it and answer again.") from error
            if not result:
                raise AgentError(f"Check {_name(check)} failed: the final answer was refused. Fix it and answer again.")

    # -- what each agent defines ----------------------------------------------------
    async def _prepare_run(self, reset: bool) -> None:
        """Get ready to act (send tools and variables to the executor...)."""

    async def _after_run(self) -> None:
        """After a run that ended, failed or was left: give back what only a run needs."""

    def _step_stream(self, step: ActionStep) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError


# The templates smolagents' `prompt_templates` holds (ours has a few more parts, kept apart).
_TEMPLATE_KEYS = ("system_prompt", "planning", "managed_agent", "final_answer")


# -- helpers ------------------------------------------------------------------------

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
