"""Keeping a run inside the model's context window.

A code step can print thousands of lines (an endless loop that prints until
its time limit); sent as is, the next model call no longer fits the model's
context and the run dies of its own output. Two rules keep it alive, for
every model:

- an observation is capped relative to the context window: its head and tail
  are kept, with a note in the middle saying how much was cut;
- when the whole conversation would still not fit, older steps are shortened
  first (their code and a short observation kept), then left out, oldest first.

Token counts are estimated, not exact (no tokenizer here): a digit counts as a
token (small models' tokenizers split numbers digit by digit), other text as
one token per three characters; the budget keeps a margin for the error.

>>> budget = ContextBudget(context_tokens=1024, reply_tokens=128)
>>> text = "\\n".join(str(i) for i in range(10_000))
>>> capped = budget.cap_observation(text)
>>> estimate_tokens(capped) <= budget.observation_tokens + 40, "cut from the middle" in capped
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any, Sequence

from .errors import AgentError

DEFAULT_CONTEXT_TOKENS = 32_768  # when a model does not say: what current provider models take at least
SAFETY = 0.9  # of the context the estimate may fill: the estimate is rough
SHORT_OBSERVATION_TOKENS = 80  # what an older step keeps of its observation when the conversation is too long
PER_MESSAGE_TOKENS = 6  # the chat template's markers around each message


def estimate_tokens(text: str | None) -> int:
    """A rough, deliberately high token count: digits one each, other characters three to a token."""
    if not text:
        return 0
    encoded = text.encode("utf-8", "surrogatepass")  # a digit is one byte; no other character has such a byte
    digits = len(encoded) - len(encoded.translate(None, b"0123456789"))  # one pass in C, short or long
    return digits + (len(text) - digits + 2) // 3


def messages_tokens(messages: Sequence[Any]) -> int:
    total = 0
    for message in messages:
        content = message.content if hasattr(message, "content") else message.get("content")
        if isinstance(content, list):
            if len(content) == 1 and isinstance(content[0], dict):  # one text part, as most messages have
                content = str(content[0].get("text", ""))
            else:
                content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        total += PER_MESSAGE_TOKENS + estimate_tokens(content if isinstance(content, str) else str(content or ""))
        for call in getattr(message, "tool_calls", None) or ():
            total += estimate_tokens(str(call.arguments)) + PER_MESSAGE_TOKENS
    return total


def cut_middle(text: str, max_tokens: int) -> str:
    """`text` if it fits in `max_tokens`, else its head and tail with a note of what was cut between."""
    total = estimate_tokens(text)
    if total <= max_tokens:
        return text
    keep_chars = max(40, int(len(text) * max_tokens / total))
    head = _line_end(text, int(keep_chars * 0.6), forward=True)
    tail = _line_end(text, len(text) - (keep_chars - head), forward=False)
    cut = text[head:tail]
    lines = cut.count("\n")
    note = (f"[… {len(cut):,} characters{f' ({lines:,} lines)' if lines else ''} cut from the middle "
            f"of this output to fit the model's context …]")
    return f"{text[:head].rstrip()}\n{note}\n{text[tail:].lstrip()}"


def _line_end(text: str, index: int, *, forward: bool) -> int:
    """`index` moved to a nearby line break (within 80 characters), so that kept lines stay whole."""
    index = max(0, min(len(text), index))
    if forward:
        found = text.rfind("\n", max(0, index - 80), index)
        return found + 1 if found >= 0 else index
    found = text.find("\n", index, index + 80)
    return found + 1 if found >= 0 else index


@dataclass(frozen=True)
class ContextBudget:
    """How many tokens a model call may send: the context window less the reply's tokens."""

    context_tokens: int
    reply_tokens: int

    @classmethod
    def for_model(cls, model: Any) -> "ContextBudget":
        """From `model.max_context_tokens` (default 32,768) and its per-call `max_tokens`, if it has one."""
        options = getattr(model, "options", None)
        reply = getattr(model, "max_tokens", None) or (options.get("max_tokens") if options else None)
        return _budget(cls, getattr(model, "max_context_tokens", None), reply)

    @cached_property
    def prompt_tokens(self) -> int:
        return int((self.context_tokens - self.reply_tokens) * SAFETY)

    @property
    def observation_tokens(self) -> int:
        """What one observation may take: an eighth of the context (at least 128 tokens)."""
        return max(128, self.context_tokens // 8)

    def cap_observation(self, text: str | None) -> str | None:
        return text if text is None else cut_middle(text, self.observation_tokens)

    def fits(self, messages: Sequence[Any]) -> bool:
        return messages_tokens(messages) <= self.prompt_tokens


@lru_cache(maxsize=64)
def _budget(cls: type, context_tokens: Any, reply_tokens: Any) -> ContextBudget:
    """One budget per model size as the model gives it (asked for at every step)."""
    context = int(context_tokens or DEFAULT_CONTEXT_TOKENS)
    reply = int(reply_tokens) if reply_tokens else 1024
    return cls(context, min(reply, context // 4))


def fit_steps(head: Any, steps: list, budget: ContextBudget, summary_mode: bool = False) -> list:
    """The messages of `head` (the system prompt step) and `steps`, made to fit `budget`.

    Older action steps are shortened first, oldest first (their code and a
    short observation stay); if that is not enough, they are left out, oldest
    first, with a note saying so. The last action step and the task stay whole.
    Each step measures its messages once (`measured_messages`): a check that
    fits only adds up those figures.
    """
    limit = budget.prompt_tokens
    parts = [head.measured_messages(summary_mode)]
    parts += [step.measured_messages(summary_mode) for step in steps]
    if _tokens(parts) <= limit:
        return _joined(parts)
    from .memory import ActionStep, NoteStep  # memory imports nothing of this module's users

    current = list(steps)
    older = [i for i, step in enumerate(current) if isinstance(step, ActionStep)][:-1]
    for index in older:
        current[index] = shortened(current[index])
        parts[index + 1] = current[index].measured_messages(summary_mode)
        if _tokens(parts) <= limit:
            return _joined(parts)
    left_out = 0
    for index in older:
        current[index] = None
        left_out += 1
        kept = [step for step in current if step is not None]
        note = NoteStep(f"({left_out} earlier step{'s' if left_out > 1 else ''} left out here to fit the "
                        "model's context.)")
        position = next(i for i, step in enumerate(kept) if isinstance(step, ActionStep))
        shown = kept[:position] + [note] + kept[position:]
        parts = [parts[0], *(step.measured_messages(summary_mode) for step in shown)]
        if _tokens(parts) <= limit:
            break
    return _joined(parts)  # when the task and the last step alone do not fit, the model says so, clearly


def _tokens(parts: list[tuple[list, int]]) -> int:
    return sum(map(itemgetter(1), parts))


def _joined(parts: list[tuple[list, int]]) -> list:
    return list(chain.from_iterable(map(itemgetter(0), parts)))


def shortened(step: Any) -> Any:
    """A copy of an action step that keeps its code and a short observation (the memory keeps the whole)."""
    code = step.code_action
    output = f"<code>\n{code}\n</code>" if code else cut_middle(step.model_output or "", SHORT_OBSERVATION_TOKENS)
    error = step.error
    if error is not None:
        error = AgentError(cut_middle(error.message, SHORT_OBSERVATION_TOKENS))
    copy = replace(step, model_output=output, error=error,
                   observations=cut_middle(step.observations, SHORT_OBSERVATION_TOKENS)
                   if step.observations else step.observations)
    if step.native_tool_calls and step.tool_calls:
        copy.tool_calls = [replace(call, observation=cut_middle(call.observation or "", SHORT_OBSERVATION_TOKENS))
                           for call in step.tool_calls]
    return copy
