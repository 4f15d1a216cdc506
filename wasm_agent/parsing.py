"""Reading actions out of model output: code blocks and JSON tool calls."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from .errors import AgentParsingError

_CODE_TAG = re.compile(r"<code>\s*\n?(.*?)(?:</code>|\Z)", re.DOTALL)
_FENCED = re.compile(r"```(?:python|py|Python|py3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)

CODE_FORMAT_HELP = (
    "Write your code between <code> and </code>, like this:\n"
    "Thought: Your reasoning.\n<code>\n# your Python code\nfinal_answer(result)\n</code>"
)


def extract_code(text: str | None) -> str:
    """The Python code of a model answer: all `<code>` blocks, else all fenced blocks.

    A block cut by a stop sequence (no closing tag) still counts.

    >>> extract_code("Thought: add.\\n<code>\\nprint(1 + 1)\\n</code>")
    'print(1 + 1)'
    """
    text = text or ""
    for pattern in (_CODE_TAG, _FENCED):
        blocks = [block.strip() for block in pattern.findall(text) if block.strip()]
        if blocks:
            return "\n\n".join(blocks)
    stripped = text.strip()
    if stripped and _looks_like_python(stripped):
        return stripped
    raise AgentParsingError(f"No code block was found in the model output.\n{CODE_FORMAT_HELP}")


def _looks_like_python(text: str) -> bool:
    """A bare answer that is only code (small models often skip the tags)."""
    if "final_answer(" not in text:
        return False
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def parse_json_tool_call(text: str | None) -> tuple[str, Any]:
    """Read `{"name": ..., "arguments": ...}` from text, for models without native tool calls."""
    text = text or ""
    start = text.find("{")
    while start != -1:
        try:
            data, _ = json.JSONDecoder().raw_decode(text[start:])
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(data, dict):
            name = data.get("name") or data.get("tool_name") or data.get("tool")
            if isinstance(name, str):
                arguments = data.get("arguments", data.get("parameters", data.get("args", {})))
                return name, arguments
        start = text.find("{", start + 1)
    raise AgentParsingError(
        "The model output contained no tool call. Call a tool, for example "
        '{"name": "final_answer", "arguments": {"answer": "..."}}.')


# Modules every CodeAgent may import (smolagents' list; the sandbox has the whole standard library).
BASE_BUILTIN_MODULES = ["collections", "datetime", "itertools", "math", "queue", "random", "re", "stat",
                        "statistics", "time", "unicodedata"]


def parse_code_blobs(text: str, code_block_tags: tuple[str, str] = ("<code>", "</code>")) -> str:
    """smolagents' name for `extract_code`: the code of a model answer; `ValueError` when there is none.

    >>> parse_code_blobs("Thought: go.\\n<code>final_answer(1)</code>")
    'final_answer(1)'
    """
    opening, closing = code_block_tags
    if (opening, closing) != ("<code>", "</code>"):
        blocks = re.findall(re.escape(opening) + r"(.*?)" + re.escape(closing), text, re.DOTALL)
        if blocks:
            return "\n\n".join(block.strip() for block in blocks)
    try:
        return extract_code(text)
    except AgentParsingError as error:
        raise ValueError(error.message) from None
