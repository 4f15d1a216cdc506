"""ToolCallingAgent: actions are native tool calls (JSON), several per step."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, AsyncIterator, Iterator

from . import platform
from .agent import MultiStepAgent, _short
from .agent_types import AgentAudio, AgentImage
from .errors import AgentError, AgentGenerationError, AgentToolCallError, AgentToolExecutionError
from .events import ActionOutput, StreamEvent, ToolOutput
from .memory import ActionStep, Timing, ToolCall
from .messages import ChatMessage, content_text
from .parsing import parse_json_tool_call
from .tools import Tool


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

    async def _step_stream(self, step: ActionStep, calls: list[ToolCall] | None = None) -> AsyncIterator[StreamEvent]:
        """Ask the model for the step's calls (unless `calls` are given), then run them into `step`: yields
        each `ToolCall`, each `ToolOutput` and, on a final answer, the `ActionOutput`."""
        if calls is None:
            options = {"stop_sequences": self.stop_sequences, "tools_to_call_from": list(self.callables.values())}
            if self._streams_model():
                async for delta in self._generate_action(step, **options):
                    yield delta
            elif (delta := await self._answer_action(step, **options)) is not None:
                yield delta
            message = step.model_output_message
            step.model_output = message.content
            if message.tool_calls:
                calls = [ToolCall(c.name, c.parsed_arguments(), c.id) for c in message.tool_calls]
            else:
                name, arguments = parse_json_tool_call(content_text(message.content))
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
            call.observation = self.context_budget.cap_observation(
                f"Error: {error.message}" if error else self._observe(output, is_final))
            yield ToolOutput(id=call.id, output=output, is_final_answer=is_final, observation=call.observation,
                             tool_call=call)
        step.observations = "\n".join([call.observation for call in calls])
        if errors:
            raise errors[0]
        final = [output for output, is_final, _ in outcomes if is_final]
        if final:
            await self._check_final_answer(final[-1])
            step.action_output, step.is_final_answer = final[-1], True
            yield ActionOutput(output=final[-1], is_final_answer=True)

    def process_tool_calls(self, chat_message: ChatMessage, memory_step: ActionStep) -> Iterator[StreamEvent]:
        """Run the native tool calls of a model message into `memory_step` (synchronously); yields each
        `ToolCall`, each `ToolOutput` and, on a final answer, the `ActionOutput`."""
        calls = [ToolCall(c.name, c.parsed_arguments(), c.id) for c in chat_message.tool_calls or ()]
        return platform.iterate_sync(self._step_stream(memory_step, calls))

    def execute_tool_call(self, tool_name: str, arguments: dict | Any) -> Any:
        """Call one tool (or managed agent) by name, synchronously; raises `AgentToolCallError` for
        arguments that do not fit and `AgentToolExecutionError` when the tool fails."""
        output, _, error = platform.block_on(self._run_tool(ToolCall(tool_name, arguments, "call")))
        if error is not None:
            raise error
        return output

    def _observe(self, output: Any, is_final: bool) -> str:
        """What the model reads of an output; an image or audio is kept in `state` and named instead."""
        kind = _media_kind(output)
        if kind is None or is_final:
            return _short(output)
        name = f"{kind}.{'png' if kind == 'image' else 'mp3'}"
        self.state[name] = output
        return f"Stored '{name}' in memory."

    async def _call_tool(self, call: ToolCall) -> tuple[Any, bool, AgentError | None]:
        """Run one call (timed on `call.timing`); returns (output, is_final_answer, error)."""
        call.timing = Timing()
        try:
            return await self._run_tool(call)
        finally:
            call.timing.end_time = time.time()

    async def _run_tool(self, call: ToolCall) -> tuple[Any, bool, AgentError | None]:
        tool = self.callables.get(call.name)
        if tool is None:
            return None, False, AgentToolExecutionError(
                f"Unknown tool {call.name!r}; the tools are: {', '.join(self.callables)}.")
        arguments = call.arguments
        if call.name == "final_answer" and isinstance(arguments, str) and arguments in self.state:
            arguments = self.state[arguments]  # an answer that names a stored image or audio
        try:
            if isinstance(arguments, dict):
                bound = tool.bind_arguments((), arguments)
            else:
                bound = tool.bind_arguments((arguments,) if arguments is not None else (), {})
            output = tool.forward(**bound)  # checked just above
            if inspect.isawaitable(output):
                output = await output
        except AgentToolCallError as error:
            return None, False, error
        except (AgentGenerationError, asyncio.CancelledError):
            raise
        except Exception as error:  # noqa: BLE001 - the model is told, and tries again
            return None, False, AgentToolExecutionError(
                f"Error executing tool {call.name!r} with arguments {_short(arguments, 200)}: "
                f"{type(error).__name__}: {error}")
        return output, call.name == "final_answer", None


def _media_kind(value: Any) -> str | None:
    """"image" for a PIL or agent image, "audio" for agent audio, else None (Pillow is not imported)."""
    if isinstance(value, AgentImage) or type(value).__module__.startswith("PIL."):
        return "image"
    return "audio" if isinstance(value, AgentAudio) else None
