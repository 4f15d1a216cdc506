"""What a step's code gives back: the value of a last expression, none after a statement, and errors
that name the line of the code where they happened, however the code is laid out."""

import pytest

from wasm_agent.executor.runner import CodeRunner


@pytest.mark.parametrize("code, output", [
    ("x = 2\nx * 21", 42),
    ("x = 5", None),
    ("import math\nround(math.pi, 2)", 3.14),
    ("values = [1,\n    2]\nsum(values)", 3),                 # the lines above end inside brackets of their own
    ("total = sum([1,\n    2,\n    3])", None),
    ("max(1,\n    2)", 2),                                    # an expression over several lines
    ("x = 1; x + 1", 2),                                      # two statements on the last line
    ("x = 1; y = 2", None),
    ("*[1], 2", (1, 2)),                                      # a starred tuple only compiles as a statement
    ("first, *rest = [1, 2, 3]\nrest", [2, 3]),
    ("dict(\nlen = 5)", {"len": 5}),                          # `len = 5)` ends a call begun above: no statement
    ("'''\nx = 5'''", "\nx = 5"),                             # ... nor inside a string begun above
    ("lambda x=1: x * 3", "function"),                        # an `=` in an expression
    ("def f():\n    return 7\nf()", 7),
    ("if True:\n    y = 3\nelse:\n    y = 4", None),
    ("y = 3\ny  # the answer", 3),
    ("y = 3\n\n# done\n", None),
    ("x = 4\r\nx * 2", 8),                                    # Windows line ends
    ("from __future__ import annotations\nz: Undefined = 1\nz", 1),  # the future import reaches every line
])
def test_the_last_expression_is_the_output(code, output):
    result = CodeRunner().run(code)
    assert result.error is None
    assert (type(result.output).__name__ if output == "function" else result.output) == output


@pytest.mark.parametrize("code, line, text", [
    ("x = 1\ny = undefined_name\nz = 2", 2, "y = undefined_name"),
    ("x = 1\n\nundefined_name", 3, "undefined_name"),
    ("x = 1\nraise ValueError('no')", 2, "raise ValueError('no')"),
    ("values = [1,\n    2]\nvalues[5]", 3, "values[5]"),
])
def test_runtime_errors_name_their_line(code, line, text):
    assert CodeRunner().run(code).error.startswith(f"Code execution failed at line {line} `{text}`")


@pytest.mark.parametrize("code, line", [
    ("x = (\n", 1),
    ("x = 1\ny = 1 +", 2),
    ("for i in range(3):\nprint(i)", 2),
    ("x = 1\nelse: y = 2", 2),
    ("x = 1\nreturn x", 2),                                  # found by the compiler, not the parser
])
def test_syntax_errors_say_where(code, line):
    error = CodeRunner().run(code).error  # Python's own words, then the line and a caret under the place
    first, source, caret = error.split("\n")
    assert first.startswith("SyntaxError: ") and first.endswith(f"(line {line})")
    assert source == code.split("\n")[line - 1] and caret.strip() == "^"


def test_the_namespace_goes_on_across_the_lines_and_the_runs():
    runner = CodeRunner()
    assert runner.run("a = 1\nb = a + 1\nc = b + 1").output is None
    assert runner.run("a + b + c").output == 6
