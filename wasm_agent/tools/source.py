"""Tools from Python source text: a page's `pythonTools`, a site config's tool files.

The source runs as a module (the site owner's own code, never the model's);
its top-level `Tool` instances and `@tool` functions are the tools. `tool` and
`Tool` are in scope without an import.

    >>> [t.name for t in tools_from_source('''
    ... @tool
    ... def double(x: int) -> int:
    ...     \"\"\"Twice x.
    ...
    ...     Args:
    ...         x: a number
    ...     \"\"\"
    ...     return 2 * x
    ... ''')]
    ['double']
"""

from __future__ import annotations

from typing import Any

from .base import Tool, tool


def tools_from_source(source: str, filename: str = "<page tools>") -> list[Tool]:
    """The `Tool`s that `source` defines at its top level (names starting with "_" left out)."""
    namespace: dict[str, Any] = {"__name__": "wasm_agent_page_tools", "tool": tool, "Tool": Tool}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the page author's own code, in the agent worker
    return [value for name, value in namespace.items() if isinstance(value, Tool) and not name.startswith("_")]
