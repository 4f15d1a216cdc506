"""CodeAgent: actions are Python code, run by an executor (the WASM sandbox by default)."""

from __future__ import annotations

import json
import re
import time
import weakref
from typing import Any, AsyncIterator, Callable, Iterable, Mapping

from . import platform
from .agent import MultiStepAgent, _short
from .errors import AgentExecutionError
from .events import ActionOutput, StreamEvent, ToolOutput
from .executor import Executor, create_executor
from .executor.pooled_executor import release_when_dropped
from .memory import ActionStep, Timing, ToolCall
from .messages import content_text
from .models.base import Model
from .parsing import extract_code
from .replay import RecordingTool, ReplayTool, can_replay
from .tools import Tool


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
                 executor_kwargs: Mapping[str, Any] | None = None, use_structured_outputs_internally: bool = False,
                 **kwargs: Any):
        # With structured outputs the model answers {"thought": ..., "code": ...} (JSON schema), not tags.
        self.use_structured_outputs_internally = use_structured_outputs_internally
        self.additional_authorized_imports = list(additional_authorized_imports)
        self.executor_type, self.executor_kwargs = executor_type, dict(executor_kwargs or {})
        super().__init__(tools, model, **kwargs)
        self.executor = executor or create_executor(
            executor_type, additional_authorized_imports=self.additional_authorized_imports,
            **(executor_kwargs or {}))
        # A dropped agent gives its sandbox back (or ends the one it made) without waiting for close().
        self._release_when_dropped = weakref.finalize(self, release_when_dropped(self.executor, executor is None))
        self._tools_sent = False
        self._tool_log: list[dict] = []  # calls made by the running code, when runs are saved

    @property
    def python_executor(self) -> Executor:
        """smolagents' name of `executor`."""
        return self.executor

    def _prompt_variables(self) -> dict[str, Any]:
        imports = self.additional_authorized_imports
        return {**super()._prompt_variables(),
                "authorized_imports": f", and {', '.join(imports)}" if imports else ""}

    async def _prepare_run(self, reset: bool) -> None:
        # This agent's first run starts fresh even with reset=False (memory given to a new agent): its
        # executor may hold what another agent's code did to it.
        if reset or not self._tools_sent:
            await self.executor.reset()
        if not self._tools_sent:
            await self.executor.send_tools(self._executor_tools())
            self._tools_sent = True
        if self.state:
            await self.executor.send_variables(self.state)

    def _executor_tools(self) -> dict[str, Tool]:
        """The tools as code sees them: recorded when the run is saved, so that a resume can replay them."""
        if self.run_store is None:
            return self.callables
        return {name: tool if name == "final_answer" else RecordingTool(tool, self._tool_log)
                for name, tool in self.callables.items()}

    async def _restore_state(self, steps: list[ActionStep], *, replay: bool, imported: bool) -> str | None:
        # A fresh sandbox even with nothing to replay: the one at hand may hold what earlier code did to it.
        await self.executor.reset()
        replayable = [s for s in steps if s.code_action and s.error is None and not s.is_final_answer]
        if not replayable:
            return None
        if not replay:
            await self.executor.send_tools(self._executor_tools())
            self._tools_sent = True
            why = "this run was imported from a file, and its code runs again only if the user agrees" if imported \
                else "the user chose not to run it again"
            first, last = replayable[0].step_number, replayable[-1].step_number
            steps_named = f"step {first}" if first == last else f"steps {first}–{last}"
            return (f"The code of the earlier steps was not run again ({why}): the variables, imports and "
                    f"functions that {steps_named} defined are not defined now. Define again what you still need.")
        lost_from = None
        for step in replayable:
            records = list(step.code_tool_calls or ())
            if not can_replay(records):
                lost_from = step.step_number
                break
            await self.executor.send_tools({name: ReplayTool(tool, records) for name, tool in self.callables.items()})
            result = await self.executor.run(step.code_action)
            if result.error is not None or records:
                lost_from = step.step_number
                break
        await self.executor.send_tools(self._executor_tools())
        self._tools_sent = True
        if lost_from is None:
            return ("The code of the earlier steps was run again to restore its variables and imports "
                    "(tools were not called again: their recorded answers were used).")
        return (f"Variables, imports and functions defined by the code of step {lost_from} and later are gone "
                "(that code could not be run again the same way): define again what you still need.")

    def interrupt(self) -> None:
        super().interrupt()
        self.executor.request_interrupt()  # the loop may be blocked by code running inline

    def _cancel_running_step(self) -> None:
        super()._cancel_running_step()
        if self._in_step and self._loop is not None:
            self._loop.create_task(self.executor.interrupt())

    async def _step_stream(self, step: ActionStep) -> AsyncIterator[StreamEvent]:
        if self.use_structured_outputs_internally:
            options = {"response_format": CODE_RESPONSE_FORMAT}
        else:
            options = {"stop_sequences": self.stop_sequences}
            if self._prompt_parts.get("grammar") and getattr(self.model, "supports_grammar", False):
                options["grammar"] = self._prompt_parts["grammar"]
        if self._streams_model():
            async for delta in self._generate_action(step, **options):
                yield delta
        elif (delta := await self._answer_action(step, **options)) is not None:
            yield delta
        text = content_text(step.model_output_message.content)
        if self.use_structured_outputs_internally:
            text = _code_of_json_answer(text)
        if "<code>" in text and "</code>" not in text.split("<code>")[-1]:
            text += "</code>"  # the stop sequence ate the closing tag
            step.model_output_message.content = text
        step.model_output = text
        code = step.code_action = extract_code(text)
        call = ToolCall(name="python_interpreter", arguments=code, id=f"call_{step.step_number}")
        step.tool_calls = [call]
        yield call
        call.timing = Timing()
        self._tool_log.clear()
        result = await self.executor.run(code)
        call.timing.end_time = time.time()
        if self.run_store is not None:
            step.code_tool_calls = [record for record in self._tool_log]
        logs, budget = result.logs, self.context_budget
        if result.error is not None:
            if logs:
                step.observations = budget.cap_observation(f"Execution logs:\n{logs.rstrip()}")
            error = result.error
            if "ModuleNotFoundError" in error:  # for the developer, not the model
                self.logger.log_error("The code imports a module the sandbox does not have: give the agent "
                                      "`additional_authorized_imports` (the module's wheel must be available).")
                error += _unauthorized_note(error, self.additional_authorized_imports)
            raise AgentExecutionError(budget.cap_observation(error))
        observation = f"Execution logs:\n{logs.rstrip()}" if logs else ""
        if not result.is_final_answer:
            observation += f"{chr(10) if observation else ''}Last output from code snippet:\n{_short(result.output)}"
        step.observations = observation = budget.cap_observation(observation)
        if result.is_final_answer:
            await self._check_final_answer(result.output)
        step.action_output, step.is_final_answer = result.output, result.is_final_answer
        yield ToolOutput(id=call.id, output=result.output, is_final_answer=result.is_final_answer,
                         observation=observation, tool_call=call)
        yield ActionOutput(output=result.output, is_final_answer=result.is_final_answer)

    async def _after_run(self) -> None:
        await self.executor.release()  # between runs a pooled sandbox serves other agents

    async def close(self) -> None:
        await self.executor.close()
        self._release_when_dropped.detach()

    def to_dict(self) -> dict:
        return {**super().to_dict(), "use_structured_outputs_internally": self.use_structured_outputs_internally}

    async def __aenter__(self) -> "CodeAgent":
        return self

    def __enter__(self) -> "CodeAgent":
        return self

    def __exit__(self, *exc: Any) -> None:
        platform.block_on(self.close())

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


# The answer format asked of the model with `use_structured_outputs_internally` (a JSON schema).
CODE_RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "ThoughtAndCodeAnswer", "strict": True, "schema": {
    "type": "object", "additionalProperties": False, "required": ["thought", "code"],
    "properties": {"thought": {"type": "string", "description": "A free form text description of the thought process."},
                   "code": {"type": "string", "description": "Valid Python code snippet implementing the thought."}}}}}


def _code_of_json_answer(text: str) -> str:
    """A structured answer as the usual text: the thought, then the code in tags (unreadable JSON stays as is)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return text
    return f"Thought: {data.get('thought', '')}\n<code>\n{data['code']}\n</code>"


def _unauthorized_note(error: str, authorized: list[str]) -> str:
    """Says so when the module the code missed is not one this agent may import (its package is not installed)."""
    missing = re.search(r"No module named '([\w.]+)'", error)
    if missing is None or missing.group(1).split(".")[0] in {name.split(".")[0] for name in authorized}:
        return ""
    return (f"\n{missing.group(1)!r} is not among the modules this agent may import (beyond the standard "
            f"library, it may import: {', '.join(authorized) or 'nothing'}).")
