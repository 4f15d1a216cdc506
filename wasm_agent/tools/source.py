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

import ast
import re
import sys
import traceback
import types
from typing import Any

from ..errors import ToolDefinitionError
from .base import Tool, tool


def tools_from_source(source: str, filename: str = "<page tools>") -> list[Tool]:
    """The `Tool`s that `source` defines at its top level (names starting with "_" left out)."""
    # A module in sys.modules, as an imported file would be: dataclasses, typing.get_type_hints and
    # pickle look their class's module up there.
    module = types.ModuleType(_MODULE, f"Tools from {filename}")
    module.__dict__.update({"__file__": filename, "tool": tool, "Tool": Tool})
    sys.modules[_MODULE] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - the page author's own code, in the agent worker
    return [value for name, value in vars(module).items() if isinstance(value, Tool) and not name.startswith("_")]


_MODULE = "wasm_agent_page_tools"


class DeclaredTool(Tool):
    """A tool described by a spec `{name, description, inputs, outputType}` whose function is elsewhere
    (a page's JS tool); subclasses implement `forward`."""

    skip_forward_signature_validation = True

    def __init__(self, spec: dict[str, Any]):
        self.name, self.description = spec["name"], spec.get("description", "")
        self.inputs = spec.get("inputs") or {}
        self.output_type = spec.get("outputType") or spec.get("output_type") or "any"
        super().__init__()


def check_tool_specs(specs: list[dict[str, Any]]) -> list[str | None]:
    """Each JS tool spec checked as an agent makes it: its problem, or None.

    >>> check_tool_specs([{"name": "page_title", "description": "The title."}, {"name": "a-b", "description": "x"}])
    [None, "tool 'a-b': name must be a Python identifier"]
    """
    problems: list[str | None] = []
    for spec in specs:
        try:
            DeclaredTool(spec)
            problems.append(None)
        except KeyError as error:
            problems.append(f"the tool has no {error.args[0]}")
        except (ToolDefinitionError, TypeError, AttributeError) as error:
            problems.append(str(error).replace(f" ({DeclaredTool.__name__})", ""))
    return problems


# Top-level statements a check runs: definitions and imports (a loop or a call at the top level could
# run for ever, and a check runs on every pause in typing).
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
                ast.AnnAssign)


def check_tool_source(source: str, filename: str = "<tools.py>") -> dict[str, Any]:
    """Check a tools module as it is being written: `{"tools": [names], "problems": [{line, message, severity}]}`.

    Every @tool function is built with the rules the agent uses (base.tool), so a schema mistake is
    reported at its line: the argument with no type hint or no docstring entry, the def line otherwise.
    Only the module's definitions and imports run (its other top-level statements wait for a real run).

    >>> check_tool_source("@tool\\ndef f(x: int) -> int:\\n    '''Twice.'''\\n    return 2 * x\\n")["problems"]
    [{'line': 2, 'message': "@tool f: the docstring has no description for the argument 'x' (write it in the Args: section)", 'severity': 'error'}]
    """
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as error:
        return {"tools": [], "problems": [_problem(error.lineno or 1, f"SyntaxError: {error.msg}")]}
    problems: list[dict[str, Any]] = []
    failed: set[str] = set()

    def checking_tool(function: Any) -> Any:
        name = getattr(function, "__name__", "")
        if name.startswith("_"):
            problems.append(_problem(_line_of(tree, function, ""), f"@tool {name}: a name starting with '_' is "
                                     "left out of the tools (it is private to the module)", "warning"))
        try:
            return tool(function)
        except (ToolDefinitionError, TypeError, NameError) as error:
            failed.add(getattr(function, "__name__", "?"))
            problems.append(_problem(_line_of(tree, function, str(error)), str(error)))
            return function

    tree.body = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
    namespace: dict[str, Any] = {"__name__": "wasm_agent_page_tools", "tool": checking_tool, "Tool": Tool}
    try:
        exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - the page author's own tools, as at a run
    except Exception as error:  # noqa: BLE001 - any failure of the module is shown at its line
        frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
        problems.append(_problem(frames[-1].lineno if frames else 1, f"{type(error).__name__}: {error}"))
    tools = [value.name for name, value in namespace.items() if isinstance(value, Tool) and not name.startswith("_")]
    if not tools and not problems and not failed:
        problems.append(_problem(1, "no tool yet: decorate a typed, documented function with @tool", "warning"))
    return {"tools": tools, "problems": sorted(problems, key=lambda problem: problem["line"])}


def _problem(line: int, message: str, severity: str = "error") -> dict[str, Any]:
    return {"line": line, "message": message, "severity": severity}


def _line_of(tree: ast.Module, function: Any, message: str) -> int:
    """Where a schema error belongs: the named argument's line, else the function's `def` line."""
    name = getattr(function, "__name__", None)
    node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name),
                None)
    if node is None:
        return getattr(getattr(function, "__code__", None), "co_firstlineno", 1)
    named = re.search(r"argument '(\w+)'", message)
    for argument in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
        if named and argument.arg == named.group(1):
            return argument.lineno
    return node.lineno
