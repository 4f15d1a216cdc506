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
