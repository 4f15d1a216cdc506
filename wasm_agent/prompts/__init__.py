"""Prompt templates as data files, rendered strictly.

Templates are TOML files beside this module. `{{name}}` is replaced by the
variable `name`; a variable that is not given raises `PromptTemplateError`.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import PromptTemplateError

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@lru_cache(maxsize=None)
def load_prompts(name: str) -> dict[str, Any]:
    """The templates of one file, e.g. `load_prompts("code_agent")`."""
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def render(template: str, **variables: Any) -> str:
    """Fill `{{name}}` placeholders; a missing variable is an error.

    >>> render("Hello {{who}}!", who="world")
    'Hello world!'
    """

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            raise PromptTemplateError(f"prompt variable {name!r} is not given (given: {sorted(variables)})")
        return str(variables[name])

    return _VARIABLE.sub(substitute, template).strip()


def few_shot_for(turns: list[dict] | None, task: str | None, shown: int | None = None) -> list[dict] | None:
    """The few-shot turns to give for `task`: all of them, or, when the examples carry `match` words
    (a small model's prompts), the `shown` examples whose words the task contains, the best one last
    (next to the task, where a small model copies from), or the first example when none matches.

    >>> turns = [{"role": "user", "content": "8% of 350?", "match": ["%"]}, {"role": "assistant", "content": "a"},
    ...          {"role": "user", "content": "Reverse 'abc'.", "match": ["reverse"]}, {"role": "assistant", "content": "b"}]
    >>> [t["content"] for t in few_shot_for(turns, "Reverse the word 'wasm'.", 2)]
    ["Reverse 'abc'.", 'b']
    """
    if not turns or not any("match" in turn for turn in turns):
        return turns
    pairs = [turns[i:i + 2] for i in range(0, len(turns) - 1, 2)]
    words = (task or "").lower()
    scores = [sum(word.lower() in words for word in pair[0].get("match", ())) for pair in pairs]
    best = sorted((i for i, score in enumerate(scores) if score), key=lambda i: (-scores[i], i))[:shown or 1]
    chosen = [pairs[i] for i in reversed(best)] or pairs[:1]
    return [{"role": turn["role"], "content": turn["content"]} for pair in chosen for turn in pair]


def populate_template(template: str, variables: dict[str, Any]) -> str:
    """smolagents' name for `render`: fill `{{name}}` placeholders from `variables` (all must be given)."""
    return render(template, **variables)


# The shape of `prompt_templates`, with every template empty (smolagents' constant).
EMPTY_PROMPT_TEMPLATES: dict[str, Any] = {
    "system_prompt": "",
    "planning": {"initial_plan": "", "update_plan_pre_messages": "", "update_plan_post_messages": ""},
    "managed_agent": {"task": "", "report": ""},
    "final_answer": {"pre_messages": "", "post_messages": ""},
}
