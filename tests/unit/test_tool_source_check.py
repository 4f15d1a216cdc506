"""check_tool_source: the playground's check of a tools module as it is typed (same rules as @tool)."""

from wasm_agent.tools.source import check_tool_source

GOOD = '''import math


@tool
def circle_area(radius: float) -> float:
    """Area of a circle.

    Args:
        radius: The radius, in any unit.
    """
    return math.pi * radius ** 2
'''


def messages(result):
    return [(problem["line"], problem["message"]) for problem in result["problems"]]


def test_a_valid_module_lists_its_tools_and_no_problem():
    assert check_tool_source(GOOD) == {"tools": ["circle_area"], "problems": []}


def test_an_argument_without_a_docstring_entry_is_flagged_at_its_line():
    source = GOOD.replace("def circle_area(radius: float)", "def circle_area(radius: float,\n                digits: int)")
    assert messages(check_tool_source(source)) == [
        (6, "@tool circle_area: the docstring has no description for the argument 'digits' (write it in the Args: section)")]


def test_an_argument_without_a_type_hint_is_flagged_at_its_line_and_other_tools_still_count():
    source = GOOD + '''

@tool
def shout(
        text) -> str:
    """Upper case.

    Args:
        text: Words.
    """
    return text.upper()
'''
    result = check_tool_source(source)
    assert messages(result) == [(16, "@tool shout: argument 'text' needs a type hint")]
    assert result["tools"] == ["circle_area"]


def test_a_missing_return_type_and_a_private_name_are_flagged_at_the_def_line():
    source = GOOD.replace(") -> float:", "):").replace("def circle_area", "def _circle_area")
    lines = messages(check_tool_source(source))
    assert [line for line, _ in lines] == [5, 5]
    assert "left out of the tools" in lines[0][1] and "return type" in lines[1][1]


def test_a_syntax_error_and_a_failing_import_name_their_lines():
    assert messages(check_tool_source("x = 1\ndef f(:\n")) == [(2, "SyntaxError: invalid syntax")]
    assert messages(check_tool_source("import math\nimport no_such_module_here\n")) == [
        (2, "ModuleNotFoundError: No module named 'no_such_module_here'")]


def test_top_level_statements_other_than_definitions_do_not_run_during_a_check():
    result = check_tool_source(GOOD + "\nwhile True:\n    pass\nraise SystemExit\n")
    assert result == {"tools": ["circle_area"], "problems": []}


def test_a_module_without_tools_gets_a_warning():
    assert check_tool_source("x = 1\n")["problems"] == [
        {"line": 1, "message": "no tool yet: decorate a typed, documented function with @tool", "severity": "warning"}]


WITH_DATACLASS = '''from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


@tool
def squared_norm(x: int, y: int) -> int:
    """The squared length of the vector (x, y).

    Args:
        x: The first coordinate.
        y: The second coordinate.
    """
    point = Point(x, y)
    return point.x ** 2 + point.y ** 2
'''


def test_a_tools_module_can_define_dataclasses_like_an_imported_file():
    """A page's tools run as a module: a dataclass there is made as in any imported file (Python
    3.14's dataclasses look the class's module up in sys.modules)."""
    from wasm_agent.tools.source import tools_from_source

    [squared_norm] = tools_from_source(WITH_DATACLASS)
    assert squared_norm(x=3, y=4) == 25
    assert check_tool_source(WITH_DATACLASS) == {"tools": ["squared_norm"], "problems": []}
