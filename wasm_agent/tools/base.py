"""Tools: what an agent can call, with a schema checked when the tool is built."""

from __future__ import annotations

import inspect
import keyword
import re
import types
import typing
from typing import Any, Callable

from ..errors import AgentToolCallError, ToolDefinitionError

AUTHORIZED_TYPES = ("string", "boolean", "integer", "number", "image", "audio", "array", "object", "any", "null")

_PY_TYPE_NAMES = {"string": "str", "boolean": "bool", "integer": "int", "number": "float",
                  "array": "list", "object": "dict", "any": "Any", "null": "None",
                  "image": "Any", "audio": "Any"}
_HINT_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
               tuple: "array", dict: "object", type(None): "null", Any: "any"}


class Tool:
    """A function the agent can call.

    Subclasses declare `name`, `description`, `inputs` (name → {"type",
    "description", optional "nullable"}), `output_type` and implement
    `forward` (sync or async) with parameters named like `inputs`.

    >>> class Add(Tool):
    ...     name = "add"
    ...     description = "Add two integers."
    ...     inputs = {"a": {"type": "integer", "description": "first"},
    ...               "b": {"type": "integer", "description": "second"}}
    ...     output_type = "integer"
    ...     def forward(self, a, b):
    ...         return a + b
    >>> Add()(2, 3)
    5
    """

    name: str = ""
    description: str = ""
    inputs: dict[str, dict[str, Any]] = {}
    output_type: str = "any"

    def __init__(self) -> None:
        self.validate()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"tool {self.name!r} must implement forward()")

    # -- schema -----------------------------------------------------------------
    def validate(self) -> None:
        """Raise `ToolDefinitionError` when the schema or `forward` do not fit together."""
        where = f"tool {self.name!r} ({type(self).__name__})"
        if not isinstance(self.name, str) or not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise ToolDefinitionError(f"{where}: name must be a Python identifier")
        if not isinstance(self.description, str) or not self.description.strip():
            raise ToolDefinitionError(f"{where}: a description is required")
        if not isinstance(self.inputs, dict):
            raise ToolDefinitionError(f"{where}: inputs must be a dict of name -> {{type, description}}")
        for arg, spec in self.inputs.items():
            if not isinstance(spec, dict) or "type" not in spec or "description" not in spec:
                raise ToolDefinitionError(f"{where}: input {arg!r} needs 'type' and 'description'")
            for kind in _types_of(spec["type"]):
                if kind not in AUTHORIZED_TYPES:
                    raise ToolDefinitionError(f"{where}: input {arg!r} has type {kind!r}; use one of {AUTHORIZED_TYPES}")
            if not str(spec["description"]).strip():
                raise ToolDefinitionError(f"{where}: input {arg!r} has an empty description")
        for kind in _types_of(self.output_type):
            if kind not in AUTHORIZED_TYPES:
                raise ToolDefinitionError(f"{where}: output_type {kind!r} is not one of {AUTHORIZED_TYPES}")
        if getattr(self, "skip_forward_signature_validation", False):
            return
        params = inspect.signature(self.forward).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return
        names = [n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL]
        if set(names) != set(self.inputs):
            raise ToolDefinitionError(
                f"{where}: forward() takes {sorted(names)} but inputs declare {sorted(self.inputs)}")

    def to_code_prompt(self) -> str:
        """The tool as a Python signature with its docstring, for a code-writing model."""
        params = []
        for arg, spec in self.inputs.items():
            annotation = _py_type(spec["type"])
            params.append(f"{arg}: {annotation} = None" if spec.get("nullable") else f"{arg}: {annotation}")
        doc = [self.description.strip()]
        if self.inputs:
            doc.append("")
            doc.append("Args:")
            doc.extend(f"    {arg}: {spec['description']}" for arg, spec in self.inputs.items())
        body = "\n".join(f"    {line}".rstrip() for line in "\n".join(doc).splitlines()).lstrip()
        return f'def {self.name}({", ".join(params)}) -> {_py_type(self.output_type)}:\n    """{body}\n    """'

    def to_json_schema(self) -> dict:
        """OpenAI-style function schema, for native tool calling."""
        properties = {}
        for arg, spec in self.inputs.items():
            prop: dict[str, Any] = {"description": spec["description"]}
            json_type = _json_type(spec["type"], spec.get("nullable", False))
            if json_type is not None:
                prop["type"] = json_type
            if "enum" in spec:
                prop["enum"] = spec["enum"]
            properties[arg] = prop
        required = [arg for arg, spec in self.inputs.items() if not spec.get("nullable")]
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": properties, "required": required}}}

    # -- calling ----------------------------------------------------------------
    def bind_arguments(self, args: tuple = (), kwargs: dict | None = None) -> dict[str, Any]:
        """Map a call's arguments onto `inputs` and check them; raise `AgentToolCallError`."""
        kwargs = dict(kwargs or {})
        names = list(self.inputs)
        if len(args) == 1 and not kwargs and isinstance(args[0], dict) and len(names) != 1 \
                and set(args[0]) <= set(names):
            kwargs, args = dict(args[0]), ()  # a single dict of arguments, as models often write
        if len(args) > len(names):
            raise AgentToolCallError(f"{self.name}() takes {len(names)} arguments ({', '.join(names)}) "
                                     f"but {len(args)} were given")
        for name, value in zip(names, args):
            if name in kwargs:
                raise AgentToolCallError(f"{self.name}() got two values for argument {name!r}")
            kwargs[name] = value
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise AgentToolCallError(f"{self.name}() got unexpected arguments {unknown}; "
                                     f"its arguments are {names}")
        for name, spec in self.inputs.items():
            if name not in kwargs:
                if spec.get("nullable"):
                    continue
                raise AgentToolCallError(f"{self.name}() is missing the required argument {name!r} "
                                         f"({spec['type']}: {spec['description']})")
            if not _fits(kwargs[name], spec["type"], spec.get("nullable", False)):
                raise AgentToolCallError(f"{self.name}(): argument {name!r} should be {spec['type']}, "
                                         f"got {type(kwargs[name]).__name__} {kwargs[name]!r:.80}")
        return kwargs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Check the arguments, then call `forward` (returns a coroutine if `forward` is async)."""
        return self.forward(**self.bind_arguments(args, kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        result = self(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.forward)

    def __repr__(self) -> str:
        return f"<Tool {self.name}>"


class FunctionTool(Tool):
    """A tool made from a function by `@tool`."""

    def __init__(self, function: Callable, name: str, description: str, inputs: dict, output_type: str):
        self.function = function
        self.name, self.description, self.inputs, self.output_type = name, description, inputs, output_type
        self.skip_forward_signature_validation = True  # the signature was the source of `inputs`
        super().__init__()
        self.__doc__ = function.__doc__

    def forward(self, **kwargs: Any) -> Any:
        return self.function(**kwargs)

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)


def tool(function: Callable) -> Tool:
    """Make a `Tool` from a typed function whose docstring documents every argument.

    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two integers.
    ...
    ...     Args:
    ...         a: The first integer.
    ...         b: The second integer.
    ...     '''
    ...     return a + b
    >>> add(a=1, b=2)
    3
    """
    name = function.__name__
    description, arg_docs = _parse_docstring(inspect.getdoc(function) or "")
    if not description:
        raise ToolDefinitionError(f"@tool {name}: the docstring must start with a description of the tool")
    hints = typing.get_type_hints(function)
    inputs: dict[str, dict[str, Any]] = {}
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"@tool {name}: *args and **kwargs cannot be described to a model")
        if param.name not in hints:
            raise ToolDefinitionError(f"@tool {name}: argument {param.name!r} needs a type hint")
        if param.name not in arg_docs:
            raise ToolDefinitionError(f"@tool {name}: argument {param.name!r} is not documented in the "
                                      "docstring's Args: section")
        kind, nullable = _hint_to_type(hints[param.name], f"@tool {name}: argument {param.name!r}")
        spec: dict[str, Any] = {"type": kind, "description": arg_docs[param.name]}
        if nullable or param.default is not inspect.Parameter.empty:
            spec["nullable"] = True
        inputs[param.name] = spec
    extra = sorted(set(arg_docs) - set(inputs))
    if extra:
        raise ToolDefinitionError(f"@tool {name}: the docstring documents {extra}, which are not arguments")
    output_type = "any"
    if "return" in hints:
        output_type, _ = _hint_to_type(hints["return"], f"@tool {name}: return type")
    return FunctionTool(function, name, description, inputs, output_type)


# -- helpers ----------------------------------------------------------------------

def _types_of(kind: Any) -> list[str]:
    return list(kind) if isinstance(kind, (list, tuple)) else [kind]


def _py_type(kind: Any) -> str:
    names = [_PY_TYPE_NAMES.get(k, "Any") for k in _types_of(kind)]
    return names[0] if len(names) == 1 else " | ".join(names)


def _json_type(kind: Any, nullable: bool) -> Any:
    kinds = [k for k in _types_of(kind) if k not in ("any",)]
    if len(kinds) != len(_types_of(kind)):
        return None  # "any": no restriction
    kinds = ["string" if k in ("image", "audio") else k for k in kinds]
    if nullable and "null" not in kinds:
        kinds.append("null")
    return kinds[0] if len(kinds) == 1 else kinds


def _fits(value: Any, kind: Any, nullable: bool) -> bool:
    if value is None and nullable:
        return True
    return any(_fits_one(value, k) for k in _types_of(kind))


def _fits_one(value: Any, kind: str) -> bool:
    if kind in ("any", "image", "audio"):
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, (list, tuple))
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    return False


def _hint_to_type(hint: Any, where: str) -> tuple[Any, bool]:
    """A type hint as (our type name or list of them, nullable)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        nullable = type(None) in members
        kinds = [_hint_to_type(m, where)[0] for m in members if m is not type(None)]
        flat = [k for kind in kinds for k in _types_of(kind)]
        return (flat[0] if len(flat) == 1 else flat), nullable
    if origin is typing.Literal:
        return _HINT_TYPES.get(type(typing.get_args(hint)[0]), "any"), False
    base = origin or hint
    if base in _HINT_TYPES:
        return _HINT_TYPES[base], base is type(None)
    if base in (list, tuple, set, frozenset) or (isinstance(base, type) and issubclass(base, (list, tuple))):
        return "array", False
    if isinstance(base, type) and issubclass(base, dict):
        return "object", False
    raise ToolDefinitionError(f"{where}: type {hint!r} cannot be described to a model; "
                              "use str, int, float, bool, list, dict, Any or Optional of them")


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_SECTION_HEADER = re.compile(r"^\s*(Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {arg: description})."""
    description: list[str] = []
    args: dict[str, str] = {}
    section = "description"
    current: str | None = None
    arg_indent = None
    for line in doc.splitlines():
        if _ARGS_HEADER.match(line):
            section = "args"
            continue
        if _SECTION_HEADER.match(line):
            section = "other"
            continue
        if section == "description":
            description.append(line)
        elif section == "args" and line.strip():
            indent = len(line) - len(line.lstrip())
            match = _ARG_LINE.match(line)
            if match and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = match.group(1).lstrip("*")
                args[current] = match.group(3).strip()
            elif current is not None:
                args[current] = (args[current] + " " + line.strip()).strip()
    return "\n".join(description).strip(), args
