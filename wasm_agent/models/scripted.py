"""A deterministic model for tests and demos."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence, Union

from ..messages import ChatMessage, MessageRole, TokenUsage, content_text
from .base import Model, truncate_at_stop

Response = Union[str, ChatMessage, Callable[[list[ChatMessage]], Any]]


class ScriptedModel(Model):
    """Answers with the given responses, in order.

    Each response is a string, a `ChatMessage`, or a callable that receives
    the messages (sync or async) and returns either. Like a real provider,
    text is cut at the first stop sequence. Token usage is estimated from
    the characters (four a token), so that totals are deterministic. Past the last response it raises.

    >>> model = ScriptedModel(["Thought: add.\\n<code>final_answer(1 + 1)</code>"])
    """

    model_id = "scripted"

    def __init__(self, responses: Sequence[Response], *, model_id: str = "scripted",
                 max_context_tokens: int | None = None):
        super().__init__(model_id)
        self.max_context_tokens = max_context_tokens
        self.responses = list(responses)
        self.calls: list[dict] = []  # what each call received, for assertions

    async def agenerate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None,
                        **kwargs) -> ChatMessage:
        self.calls.append({"messages": list(messages), "stop_sequences": stop_sequences, "tools": tools_to_call_from})
        index = len(self.calls) - 1
        if index >= len(self.responses):
            raise IndexError(f"ScriptedModel has only {len(self.responses)} responses; call {index + 1} has none")
        response = self.responses[index]
        if callable(response) and not isinstance(response, ChatMessage):
            response = response(list(messages))
            if inspect.isawaitable(response):
                response = await response
        if isinstance(response, str):
            response = ChatMessage(role=MessageRole.ASSISTANT, content=response)
        if not isinstance(response, ChatMessage):
            raise TypeError(f"scripted response {index + 1} is {type(response).__name__}, not str or ChatMessage")
        content = response.content
        if isinstance(content, str) and content:
            content = truncate_at_stop(content, stop_sequences)
        usage = response.token_usage or TokenUsage(  # about four characters a token, like real tokenizers
            input_tokens=sum(len(content_text(m.content)) for m in messages) // 4,
            output_tokens=len(content or "") // 4,
        )
        return ChatMessage(role=MessageRole.ASSISTANT, content=content, tool_calls=response.tool_calls,
                           token_usage=usage, raw=response.raw)
