"""Runs generated code in a namespace that persists between calls.

This module is the part of an executor that is the same everywhere: the
in-process executor uses it in the agent's interpreter, and the WASM sandbox
runs it inside its own Pyodide. It imports nothing from the rest of the
package but `base`, so the sandbox can load it alone. It is no security
boundary: isolation comes from the runtime around it.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import sys
import traceback
from types import CodeType
from typing import Any, Callable

from .base import CodeOutput, OutputBuffer

CODE_FILENAME = "<code>"
INTERRUPTED_PREFIX = "KeyboardInterrupt"

_PY_TYPES = {"string": str, "boolean": bool, "integer": int, "number": float, "array": list,
             "object": dict, "null": type(None)}


class FinalAnswerSignal(BaseException):
    """Raised by `final_answer(...)` to end the code; carries the answer."""

    def __init__(self, value: Any):
        super().__init__("final_answer")
        self.value = value


class ExecutionInterrupted(KeyboardInterrupt):
    """Injected into running code to stop it (time limit or user interrupt)."""


def make_tool_function(name: str, description: str, inputs: dict[str, dict], output_type: str,
                       call: Callable[[str, tuple, dict], Any]) -> Callable:
    """A plain function standing for a tool in the code's namespace.

    It has the tool's real signature and docstring (so `help(tool)` and
    `inspect.signature` tell the truth) and forwards every call to
    `call(name, args, kwargs)`, which runs the tool wherever it lives.
    """

    def tool_function(*args: Any, **kwargs: Any) -> Any:
        return call(name, args, kwargs)

    parameters = []
    for arg, spec in inputs.items():
        annotation = _PY_TYPES.get(spec.get("type") if isinstance(spec.get("type"), str) else "", Any)
        default = None if spec.get("nullable") else inspect.Parameter.empty
        parameters.append(inspect.Parameter(arg, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                            default=default, annotation=annotation))
    tool_function.__name__ = tool_function.__qualname__ = name
    tool_function.__signature__ = inspect.Signature(
        parameters, return_annotation=_PY_TYPES.get(output_type if isinstance(output_type, str) else "", Any))
    args_doc = "".join(f"\n    {arg}: {spec.get('description', '')}" for arg, spec in inputs.items())
    tool_function.__doc__ = description + (f"\n\nArgs:{args_doc}" if inputs else "")
    return tool_function


class CodeRunner:
    """Executes code strings in one namespace; prints are captured and capped.

    >>> runner = CodeRunner()
    >>> runner.run("x = 2\\nprint('hi')\\nx * 21").output
    42
    """

    def __init__(self, max_output_chars: int = 20_000, capture_std_streams: bool = False):
        self.max_output_chars = max_output_chars
        # The sandbox owns its process and also redirects sys.stdout/stderr;
        # in-process, other threads share them, so only `print` is captured.
        self.capture_std_streams = capture_std_streams
        self.functions: dict[str, Callable] = {}
        self.namespace: dict[str, Any] = {}
        self._buffer: OutputBuffer | None = None
        self.reset()

    # -- state ------------------------------------------------------------------
    def reset(self) -> None:
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.namespace.update(self.functions)
        self.namespace["print"] = self._print

    def set_functions(self, functions: dict[str, Callable]) -> None:
        for name in self.functions:
            self.namespace.pop(name, None)
        self.functions = dict(functions)
        self.namespace.update(self.functions)

    def set_variables(self, variables: dict[str, Any]) -> None:
        self.namespace.update(variables)

    # -- running ----------------------------------------------------------------
    def run(self, code: str) -> CodeOutput:
        # Tools (final_answer too) and print again before every step: code that rebound one of them
        # in an earlier step must not leave the run without a way to call it, or to finish.
        self.namespace.update(self.functions)
        self.namespace["print"] = self._print
        self.namespace["__builtins__"] = builtins
        buffer = self._buffer = OutputBuffer(self.max_output_chars)
        try:
            statements, last_expression = compile_code(code)
        except SyntaxError as error:
            return CodeOutput(logs="", error=_syntax_error_message(error, code))
        except Exception as error:  # noqa: BLE001 - too deeply nested to compile, a null byte…
            return CodeOutput(logs="", error=describe_exception(error, code))
        try:
            saved_streams = sys.stdout, sys.stderr
            if self.capture_std_streams:
                sys.stdout = sys.stderr = buffer
            try:
                for part in statements:
                    exec(part, self.namespace)
                value = None if last_expression is None else eval(last_expression, self.namespace)
            finally:
                if self.capture_std_streams:
                    sys.stdout, sys.stderr = saved_streams
            return CodeOutput(output=value, logs=buffer.getvalue())
        except FinalAnswerSignal as signal:
            return CodeOutput(output=signal.value, logs=buffer.getvalue(), is_final_answer=True)
        except KeyboardInterrupt:
            return CodeOutput(logs=buffer.getvalue(), error=f"{INTERRUPTED_PREFIX}: the code was stopped")
        except SystemExit as error:
            return CodeOutput(logs=buffer.getvalue(),
                              error=f"SystemExit({error.code!r}): the code called exit(); "
                                    "call final_answer(...) to finish instead")
        except BaseException as error:  # noqa: BLE001 - every failure is reported to the model
            return CodeOutput(logs=buffer.getvalue(), error=describe_exception(error, code))
        finally:
            self._buffer = None

    def _print(self, *values: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None,
               flush: bool = False) -> None:
        if file is not None and file not in (sys.stdout, sys.stderr):
            builtins.print(*values, sep=sep, end=end, file=file, flush=flush)
            return
        target = self._buffer if self._buffer is not None else sys.stdout
        target.write((" " if sep is None else sep).join(map(str, values)) + ("\n" if end is None else end))


def compile_code(code: str) -> tuple[list[CodeType], CodeType | None]:
    """The code compiled as its statements and, when it ends with an expression, that expression
    apart (its value is the code's output), with the code's own line numbers.

    >>> statements, last = compile_code("x = 2\\nx * 21")
    >>> namespace = {}
    >>> for part in statements: exec(part, namespace)
    >>> eval(last, namespace)
    42
    """
    split = _split_at_last_line(code)
    if split is not None:
        return split
    module = ast.parse(code, filename=CODE_FILENAME)  # the exact syntax error, or a last statement over lines
    last_expression = None
    if module.body and isinstance(module.body[-1], ast.Expr):
        last_expression = compile(ast.Expression(module.body.pop().value), CODE_FILENAME, "eval")
    return [compile(module, CODE_FILENAME, "exec")], last_expression


# A line that starts a statement and is an assignment or a simple keyword statement: never an expression.
_STATEMENT_LINE = re.compile(r"[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*(?:[-+*/%&|^@]|//|\*\*|>>|<<)?=(?!=)"
                             r"|(?:import|from|del|pass|raise|assert|global|nonlocal|break|continue)\b")


def _split_at_last_line(code: str) -> tuple[list[CodeType], CodeType | None] | None:
    """`compile_code` from the source alone, when the last line is a whole statement (most code), or None.

    Building Python's syntax tree of the code costs more than compiling it. The last line is a
    statement of its own when it starts at column 0 and the lines above compile alone (no open
    bracket, string or continuation reaches it); it is an expression when it compiles as one
    (without a `*`, as a tuple with a starred item only compiles as a statement).
    """
    if "\r" in code or "__future__" in code:  # other line ends; a future import must stay with all the code
        return None
    head, _, last = code.rstrip(" \t\n").rpartition("\n")
    if not last or last[0] in " \t\f#" or ";" in last:
        return None
    padded = "\n" * (head.count("\n") + 1) + last if head else last  # the last line keeps its line number
    try:
        statements = [compile(head, CODE_FILENAME, "exec")] if head.strip() else []
        if not _STATEMENT_LINE.match(last):
            try:
                return statements, compile(padded, CODE_FILENAME, "eval")
            except SyntaxError:
                if "*" in last:
                    return None
        return [*statements, compile(padded, CODE_FILENAME, "exec")], None
    except (SyntaxError, ValueError):  # ast reports it as for any code
        return None


def describe_exception(error: BaseException, code: str) -> str:
    """`Type: message`, with the line of the generated code where it happened."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == CODE_FILENAME]
    if frames:
        line_number = frames[-1].lineno or 0
        lines = code.splitlines()
        source = lines[line_number - 1].strip() if 0 < line_number <= len(lines) else ""
        return f"Code execution failed at line {line_number} `{source}`: {text}"
    return f"Code execution failed: {text}"


def _syntax_error_message(error: SyntaxError, code: str) -> str:
    lines = code.splitlines()
    line_number = error.lineno or 0
    source = lines[line_number - 1] if 0 < line_number <= len(lines) else (error.text or "").rstrip("\n")
    caret = " " * max((error.offset or 1) - 1, 0) + "^"
    return f"SyntaxError: {error.msg} (line {line_number})\n{source}\n{caret}"
