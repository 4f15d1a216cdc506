"""Tools: what an agent can call, with a schema checked when the tool is built."""

from __future__ import annotations

import ast
import functools
import inspect
import keyword
import re
import textwrap
import types
import typing
import warnings
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

    name: str
    description: str
    inputs: dict[str, dict[str, Any]]
    output_type: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # arguments: smolagents' signature, unused
        self.validate()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"tool {self.name!r} must implement forward()")

    # -- schema -----------------------------------------------------------------
    def validate(self) -> None:
        """Raise `ToolDefinitionError` when the schema or `forward` do not fit together."""
        for attribute in ("name", "description", "inputs", "output_type"):
            if not hasattr(self, attribute):
                raise ToolDefinitionError(f"You must set an attribute {attribute}. ({type(self).__name__})")
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
            kinds = spec["type"]
            if isinstance(kinds, list) and not all(isinstance(kind, str) for kind in kinds):
                raise TypeError(f"{where}: input {arg!r}: when type is a list, all elements must be strings, "
                                f"got {kinds!r}")
            if not isinstance(kinds, (str, list)):
                raise TypeError(f"{where}: input {arg!r}: type must be a string or list of strings, "
                                f"got {type(kinds).__name__}")
            invalid = [kind for kind in _types_of(kinds) if kind not in AUTHORIZED_TYPES]
            if invalid:
                raise ToolDefinitionError(f"{where}: input {arg!r}: types {invalid} must be one of {AUTHORIZED_TYPES}")
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
        hints = _hints_of(self.forward)
        for arg, spec in self.inputs.items():  # None must be allowed on both sides, or on neither
            in_signature = params[arg].default is not inspect.Parameter.empty or _allows_none(hints.get(arg))
            if bool(spec.get("nullable")) != in_signature:
                side = "function signature" if in_signature else "inputs"
                other = "inputs" if in_signature else "function signature"
                raise ToolDefinitionError(f"{where}: Nullable argument {arg!r} in {side} should have key "
                                          f"'nullable' set to True in {other} (a default value or Optional there).")

    def to_code_prompt(self, *, python_types: bool = False) -> str:
        """The tool as a Python signature with its docstring, for a code-writing model.

        Types are named as in `inputs` (`string`, `integer`...), as smolagents writes them; with
        `python_types`, as Python names them (`str`, `int`...), which is what CodeAgent's prompt shows.
        """
        def name_of(kind: Any) -> str:
            if python_types:
                return _py_type(kind)
            return " | ".join(_types_of(kind)) if isinstance(kind, list) else kind

        params = []
        for arg, spec in self.inputs.items():
            annotation = name_of(spec["type"])
            params.append(f"{arg}: {annotation} = None" if spec.get("nullable") else f"{arg}: {annotation}")
        doc = [self.description.strip()]
        if self.inputs:
            doc.append("")
            doc.append("Args:")
            doc.extend(f"    {arg}: {spec['description']}" for arg, spec in self.inputs.items())
        body = "\n".join(f"    {line}".rstrip() for line in "\n".join(doc).splitlines()).lstrip()
        return f'def {self.name}({", ".join(params)}) -> {name_of(self.output_type)}:\n    """{body}\n    """'

    def to_tool_calling_prompt(self) -> str:
        """The tool as one line of description, for a tool-calling model (smolagents' format)."""
        return (f"{self.name}: {self.description}\n    Takes inputs: {self.inputs}\n"
                f"    Returns an output of type: {self.output_type}")

    def to_dict(self) -> dict:
        """`{name, code, requirements}`: the tool as the source of a module (`Tool.from_dict` reads it)."""
        from .serialization import tool_to_dict

        return tool_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict, **kwargs: Any) -> "Tool":
        from .serialization import tool_from_dict

        return tool_from_dict(data, **kwargs)

    @classmethod
    def from_code(cls, code: str, **kwargs: Any) -> "Tool":
        """The tool that a module's source defines (a subclass of Tool), made with `kwargs`."""
        from .serialization import tool_from_code

        return tool_from_code(code, **kwargs)

    def save(self, output_dir: str, tool_file_name: str = "tool", make_gradio_app: bool = False) -> None:
        """Write the tool's source to `output_dir/<tool_file_name>.py` (and its requirements.txt)."""
        from .serialization import save_tool

        save_tool(self, output_dir, tool_file_name)

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
        inputs = self.inputs
        kwargs = dict(kwargs) if kwargs else {}
        if args:
            names = list(inputs)
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
        if not kwargs.keys() <= inputs.keys():
            raise AgentToolCallError(f"{self.name}() got unexpected arguments {sorted(kwargs.keys() - inputs.keys())}; "
                                     f"its arguments are {list(inputs)}")
        for name, spec in inputs.items():
            if name not in kwargs:
                if spec.get("nullable"):
                    continue
                raise AgentToolCallError(f"{self.name}() is missing the required argument {name!r} "
                                         f"({spec['type']}: {spec['description']})")
            if not _fits(kwargs[name], spec["type"], spec.get("nullable", False)):
                raise AgentToolCallError(f"{self.name}(): argument {name!r} should be {spec['type']}, "
                                         f"got {type(kwargs[name]).__name__} {kwargs[name]!r:.80}")
        return kwargs

    def __call__(self, *args: Any, sanitize_inputs_outputs: bool = False, **kwargs: Any) -> Any:
        """Check the arguments, then call `forward` (returns a coroutine if `forward` is async).

        With `sanitize_inputs_outputs`, agent types in are unwrapped and the output is wrapped in the
        agent type of `output_type` (`AgentText`, `AgentImage`...).
        """
        if not sanitize_inputs_outputs:
            return self.forward(**self.bind_arguments(args, kwargs))
        from ..agent_types import handle_agent_input_types, handle_agent_output_types

        args, kwargs = handle_agent_input_types(*args, **kwargs)
        return handle_agent_output_types(self.forward(**self.bind_arguments(tuple(args), kwargs)), self.output_type)

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
        self.forward = _forward_of(function)  # shown as `forward(self, <the function's parameters>)`

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
            raise ToolDefinitionError(f"@tool {name}: the docstring has no description for the argument "
                                      f"{param.name!r} (write it in the Args: section)")
        kind, nullable = _hint_to_type(hints[param.name], f"@tool {name}: argument {param.name!r}")
        spec: dict[str, Any] = {"type": kind, "description": arg_docs[param.name]}
        choices = _literal_choices(hints[param.name])
        if choices:
            spec["enum"] = choices
        if nullable or param.default is not inspect.Parameter.empty:
            spec["nullable"] = True
        inputs[param.name] = spec
    extra = sorted(set(arg_docs) - set(inputs))
    if extra:
        raise ToolDefinitionError(f"@tool {name}: the docstring documents {extra}, which are not arguments")
    if "return" not in hints and inputs:
        raise ToolDefinitionError(f"@tool {name}: Tool return type not found: give the function a return type "
                                  "hint (-> str, -> dict, -> Any...)")
    output_type, _ = _hint_to_type(hints.get("return", type(None)), f"@tool {name}: return type")
    if isinstance(output_type, list):  # a union of outputs: the model is told "any"
        output_type = "any"
    return FunctionTool(function, name, description, inputs, output_type)


def is_valid_name(name: str) -> bool:
    """True for a name a tool or agent can have: a Python identifier, not a keyword."""
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def validate_tool_arguments(tool: Tool, arguments: Any) -> None:
    """Check arguments against a tool's inputs: `ValueError` for a missing or unknown argument,
    `TypeError` for a value of the wrong type (an integer is a number; None fits a nullable input).

    For example, with a tool whose input `text` is a string, `{"text": 3}` raises
    `TypeError("Argument text has type 'integer' but should be 'string'")`.
    """
    if not isinstance(arguments, dict):
        if len(tool.inputs) != 1:
            raise ValueError(f"{tool.name} takes {len(tool.inputs)} arguments: pass them as a dict")
        arguments = {next(iter(tool.inputs)): arguments}
    for key, value in arguments.items():
        if key not in tool.inputs:
            raise ValueError(f"Argument {key} is not in the tool's input schema")
        spec = tool.inputs[key]
        if not _fits(value, spec["type"], spec.get("nullable", False)):
            raise TypeError(f"Argument {key} has type '{value_type(value)}' but should be '{spec['type']}'")
    for key, spec in tool.inputs.items():
        if key not in arguments and not spec.get("nullable", False):
            raise ValueError(f"Argument {key} is required")


def value_type(value: Any) -> str:
    """The tool type name of a value (what `inputs` would call it)."""
    for kind in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _fits_one(value, kind):
            return kind
    return "any"


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
    if isinstance(kind, str):  # the usual case: one type
        return _fits_one(value, kind)
    return any(_fits_one(value, k) for k in _types_of(kind))


def _fits_one(value: Any, kind: str) -> bool:
    python_type = _FITTING_TYPES.get(kind)
    if python_type is not None:
        return isinstance(value, python_type) and not (kind in _NOT_BOOL and isinstance(value, bool))
    return kind in ("any", "image", "audio") or (kind == "null" and value is None)


# What a value of each type is in Python (a bool is no integer or number here, though Python says so).
_FITTING_TYPES = {"string": str, "boolean": bool, "integer": int, "number": (int, float), "array": (list, tuple),
                  "object": dict}
_NOT_BOOL = ("integer", "number")


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
        values = typing.get_args(hint)
        kinds = sorted({_HINT_TYPES.get(type(v), "any") for v in values if v is not None})
        return (kinds[0] if len(kinds) == 1 else kinds or "null"), None in values
    base = origin or hint
    if base in _HINT_TYPES:
        return _HINT_TYPES[base], base is type(None)
    if base in (list, tuple, set, frozenset) or (isinstance(base, type) and issubclass(base, (list, tuple))):
        return "array", False
    if isinstance(base, type) and issubclass(base, dict):
        return "object", False
    if isinstance(base, type) and base.__module__.startswith("PIL.") and base.__name__ == "Image":
        return "image", False
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


def _literal_choices(hint: Any) -> list | None:
    """The values of a `Literal[...]` hint (also inside Optional), None values left out."""
    for member in (hint, *typing.get_args(hint)):
        if typing.get_origin(member) is typing.Literal:
            return [value for value in typing.get_args(member) if value is not None]
    return None


def _hints_of(function: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - hints naming what is not importable here: judge by defaults only
        return {}


def _allows_none(hint: Any) -> bool:
    return hint is not None and (hint is type(None) or type(None) in typing.get_args(hint)
                                 or (typing.get_origin(hint) is typing.Literal and None in typing.get_args(hint)))


def _forward_of(function: Callable) -> Callable:
    """A `forward` for a function tool: calls the function; its signature (with `self`) and source
    (`__source__`, the function's code as a method) describe it."""

    @functools.wraps(function)
    def forward(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    signature = inspect.signature(function)
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    forward.__signature__ = signature.replace(parameters=[self_parameter, *signature.parameters.values()])
    forward.__source__ = _method_source(function)
    return forward


def _parameter_source(parameter: inspect.Parameter) -> str:
    """`name: annotation = default` as one would write it."""
    text = parameter.name
    if parameter.annotation is not inspect.Parameter.empty:
        annotation = parameter.annotation
        text += f": {annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)}"
    if parameter.default is not inspect.Parameter.empty:
        text += f" = {parameter.default!r}"
    return text


def _method_source(function: Callable) -> str | None:
    """The function's source as `def forward(self, ...)`, without its decorators; None if not readable."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return None
    node = next((n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))),
                None)
    if node is None:
        return None
    others = [d for d in node.decorator_list if not (isinstance(d, ast.Name) and d.id == "tool")]
    if others:
        warnings.warn(f"Function '{node.name}' has decorators other than @tool: they are left out of the tool's "
                      "saved source (Tool.to_dict, save).", UserWarning, stacklevel=4)
    arguments = ", ".join(_parameter_source(p) for p in inspect.signature(function).parameters.values())
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    body = source.splitlines()[node.body[0].lineno - 1:]
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    return f"{prefix} forward(self{', ' if arguments else ''}{arguments}){returns}:\n" + "\n".join(body)
