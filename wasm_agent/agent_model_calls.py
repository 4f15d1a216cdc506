"""The agent's calls to its model: an action (streamed or whole), a plan, a last answer.

A mixin of `MultiStepAgent` (wasm_agent/agent.py), which holds the loop that makes these calls.
A provider's failure becomes an `AgentGenerationError` that ends the run with a clear message.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

from .errors import AgentError, AgentGenerationError
from .memory import ActionStep, PlanningStep, Timing
from .messages import ChatMessage, ChatMessageStreamDelta, MessageRole, agglomerate_stream_deltas, content_text
from .models.base import call_generate, stream_deltas
from .prompts import render


class ModelCalls:
    """What `MultiStepAgent` asks of its model (it provides `model`, `stream_outputs`, the prompts and
    `write_memory_to_messages`)."""

    async def _generate_stream(self, messages: list[ChatMessage], **kwargs: Any) -> AsyncIterator[Any]:
        """Call the model, streaming: yields its deltas, then the whole `ChatMessage`."""
        try:
            deltas: list[ChatMessageStreamDelta] = []
            async for delta in stream_deltas(self.model, messages, **kwargs):
                deltas.append(delta)
                yield delta
            yield agglomerate_stream_deltas(deltas)
        except (AgentError, asyncio.CancelledError):
            raise
        except Exception as error:  # noqa: BLE001 - any provider failure ends the run clearly
            raise _model_failure(error) from error

    def _streams_model(self) -> bool:
        return bool(self.stream_outputs and getattr(self.model, "supports_streaming", False))

    async def _call_model(self, messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        """One whole answer of the model; a provider failure ends the run clearly."""
        try:
            return await call_generate(self.model, messages, **kwargs)
        except (AgentError, asyncio.CancelledError):
            raise
        except Exception as error:  # noqa: BLE001 - any provider failure ends the run clearly
            raise _model_failure(error) from error

    async def _generate_action(self, step: ActionStep, **kwargs: Any) -> AsyncIterator[ChatMessageStreamDelta]:
        """The model call of an action step, streamed (`_streams_model()`): yields the model's deltas;
        fills the step's output, usage and timing."""
        messages = step.model_input_messages = self.write_memory_to_messages()
        step.model_timing = Timing()
        async for item in self._generate_stream(messages, **kwargs):
            if isinstance(item, ChatMessage):
                step.model_output_message, step.token_usage = item, item.token_usage
            else:
                yield item
        step.model_timing.end_time = time.time()

    async def _answer_action(self, step: ActionStep, **kwargs: Any) -> ChatMessageStreamDelta | None:
        """The model call of an action step, whole (no generator: this runs at every step): fills the
        step as `_generate_action` does; returns its text as one delta (None without text), so that a
        UI shows it before the action runs."""
        messages = step.model_input_messages = self.write_memory_to_messages()
        step.model_timing = Timing()
        message = step.model_output_message = await self._call_model(messages, **kwargs)
        step.token_usage = message.token_usage
        step.model_timing.end_time = time.time()
        return ChatMessageStreamDelta(content=message.content) if message.content else None

    async def _complete(self, messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        if not self._streams_model():
            return await self._call_model(messages, **kwargs)
        message = None
        async for item in self._generate_stream(messages, **kwargs):
            message = item
        return message

    async def _plan(self, first: bool, remaining: int) -> PlanningStep:
        variables = {**self._prompt_variables(), "task": self.task, "remaining_steps": remaining}
        planning = self.prompt_templates["planning"]

        def text(role: MessageRole, key: str) -> ChatMessage:
            return ChatMessage(role, [{"type": "text", "text": render(planning[key], **variables)}])

        if first:
            messages = [text(MessageRole.USER, "initial_plan")]
        else:
            messages = [text(MessageRole.SYSTEM, "update_plan_pre_messages"),
                        *self.write_memory_to_messages(summary_mode=True),
                        text(MessageRole.USER, "update_plan_post_messages")]
        step = PlanningStep(model_input_messages=messages, timing=Timing())
        message = await self._complete(messages, stop_sequences=["<end_plan>"])
        step.model_output_message, step.token_usage = message, message.token_usage
        step.plan = content_text(message.content).split("<end_plan>")[0].strip()
        return step

    async def _final_answer_message(self, task: str | None) -> ChatMessage:
        templates = self.prompt_templates["final_answer"]
        messages = [ChatMessage(MessageRole.SYSTEM, [{"type": "text", "text": templates["pre_messages"]}]),
                    *self.write_memory_to_messages()[1:],
                    ChatMessage(MessageRole.USER, [{"type": "text",
                                                    "text": render(templates["post_messages"], task=task)}])]
        return await self._complete(messages)


def _model_failure(error: Exception) -> AgentGenerationError:
    return AgentGenerationError(f"The model failed: {type(error).__name__}: {error}")
