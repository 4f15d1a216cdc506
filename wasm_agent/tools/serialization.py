"""A tool as Python source, and back: `Tool.to_dict`, `Tool.from_dict`, `Tool.from_code`, `Tool.save`.

The source is a module that defines one `Tool` subclass and imports what it
uses inside its methods, so that it runs anywhere wasm_agent is installed (a
saved tool, or one sent to an agent that rebuilds it). Names a method uses
that neither it nor the module defines are refused when the source is made.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import sys
import textwrap
from pathlib import Path
from typing import Any

from ..errors import ToolDefinitionError
from .base import FunctionTool, Tool

_HEADER = "from typing import Any, Optional\n\nfrom wasm_agent import Tool\n"


def tool_to_dict(tool: Tool) -> dict:
    code = tool_source(tool)
    return {"name": tool.name, "code": code, "requirements": sorted(_imported_modules(code) - {"wasm_agent"})}


def tool_source(tool: Tool) -> str:
    """The module that defines `tool`'s class (a function tool becomes a class with that function as `forward`)."""
    attributes = (f"    name = {tool.name!r}\n    description = {tool.description!r}\n"
                  f"    inputs = {tool.inputs!r}\n    output_type = {tool.output_type!r}\n")
    if isinstance(tool, FunctionTool):
        forward = getattr(tool.forward, "__source__", None)
        if forward is None:
            raise ToolDefinitionError(f"the source of tool {tool.name!r} cannot be read (defined interactively?)")
        body = f"class SimpleTool(Tool):\n{attributes}\n{textwrap.indent(forward, '    ')}\n"
    else:
        _check_init_has_defaults(type(tool))
        body = f"class {type(tool).__name__}(Tool):\n{attributes}{_methods_source(type(tool))}"
    _check_names_defined(body, type(tool).__name__)
    return f"{_HEADER}\n\n{body}"


def tool_from_code(code: str, **kwargs: Any) -> Tool:
    namespace: dict[str, Any] = {"__name__": "wasm_agent_loaded_tool"}
    exec(compile(code.replace("from smolagents import", "from wasm_agent import"), "<tool>", "exec"), namespace)
    classes = [v for v in namespace.values() if isinstance(v, type) and issubclass(v, Tool) and v is not Tool]
    if not classes:
        raise ToolDefinitionError("the code defines no subclass of Tool")
    return classes[-1](**kwargs)


def tool_from_dict(data: dict, **kwargs: Any) -> Tool:
    if "code" not in data:
        raise ValueError("Tool dictionary must contain 'code' key with the tool source code")
    return tool_from_code(data["code"], **kwargs)


def save_tool(tool: Tool, output_dir: str | Path, file_name: str = "tool") -> None:
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    data = tool_to_dict(tool)
    (folder / f"{file_name}.py").write_text(data["code"], encoding="utf-8")
    (folder / "requirements.txt").write_text("".join(f"{name}\n" for name in data["requirements"]), encoding="utf-8")


def _check_init_has_defaults(cls: type) -> None:
    init = cls.__dict__.get("__init__")
    if init is None:
        return
    required = [p.name for p in list(inspect.signature(init).parameters.values())[1:]
                if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if required:
        raise ToolDefinitionError(f"Parameters in __init__ must have default values, found required parameters "
                                  f"{required} in {cls.__name__}: a saved tool is rebuilt without arguments")


def _methods_source(cls: type) -> str:
    """The class's own statements but its name/description/inputs/output_type (written from the instance)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        raise ToolDefinitionError(f"the source of tool class {cls.__name__} cannot be read") from None
    lines = source.splitlines()
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef))
    kept = []
    for statement in node.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else \
            [statement.target] if isinstance(statement, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id in _ATTRIBUTES for t in targets):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the class docstring
        first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))])
        kept.append("\n".join(lines[first - 1:statement.end_lineno]))
    return "".join(f"\n{textwrap.indent(textwrap.dedent(text), '    ')}\n" for text in kept)


_ATTRIBUTES = ("name", "description", "inputs", "output_type")


def _check_names_defined(source: str, where: str) -> None:
    """Refuse a method that uses a name defined neither in it nor in the module (e.g. an outer `np`)."""
    module = ast.parse(_HEADER + "\n" + source)
    known = set(dir(builtins)) | {"self", "cls", "__class__"}
    for node in module.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            known |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ClassDef):
            known.add(node.name)
    for function in (n for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        local = {arg.arg for arg in ast.walk(function.args) if isinstance(arg, ast.arg)}
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                local |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                local.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not function:
                local.add(node.name)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                local.add(node.name)
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in known | local:
                raise ToolDefinitionError(f"Tool {where}: name '{node.id}' is undefined: import it inside the "
                                          "method that uses it, so that the saved tool runs on its own")


def _imported_modules(code: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names}
