from typing import Any, Optional

import pytest

from wasm_agent import AgentToolCallError, Tool, ToolDefinitionError, tool
from wasm_agent.tools import FinalAnswerTool


@tool
def search(query: str, limit: Optional[int] = None) -> list:
    """Search the notes.

    Args:
        query: What to look for.
        limit: How many results at most.
    """
    return [query] * (limit or 1)


def test_tool_schema_comes_from_hints_and_docstring():
    assert search.name == "search"
    assert search.description == "Search the notes."
    assert search.inputs == {"query": {"type": "string", "description": "What to look for."},
                             "limit": {"type": "integer", "description": "How many results at most.",
                                       "nullable": True}}
    assert search.output_type == "array"
    schema = search.to_json_schema()["function"]
    assert schema["parameters"]["required"] == ["query"]
    assert schema["parameters"]["properties"]["limit"]["type"] == ["integer", "null"]


def test_code_prompt_is_a_python_signature_with_docstring():
    prompt = search.to_code_prompt(python_types=True)  # what CodeAgent's prompt shows
    assert prompt.startswith("def search(query: str, limit: int = None) -> list:")
    assert search.to_code_prompt().startswith("def search(query: string, limit: integer = None) -> array:")
    assert "query: What to look for." in prompt


def test_undocumented_parameter_fails_at_creation():
    with pytest.raises(ToolDefinitionError, match="no description for the argument"):
        @tool
        def bad(x: int) -> int:
            """Does things.

            Args:
                y: Not x.
            """
            return x


def test_missing_type_hint_fails_at_creation():
    with pytest.raises(ToolDefinitionError, match="type hint"):
        @tool
        def bad(x) -> int:
            """Does things.

            Args:
                x: A value.
            """
            return x


def test_missing_description_fails_at_creation():
    with pytest.raises(ToolDefinitionError, match="description"):
        @tool
        def bad(x: int) -> int:
            return x


def test_subclass_with_mismatched_forward_fails():
    class Bad(Tool):
        name = "bad"
        description = "Bad tool."
        inputs = {"a": {"type": "integer", "description": "a"}}
        output_type = "integer"

        def forward(self, b):
            return b

    with pytest.raises(ToolDefinitionError, match="forward"):
        Bad()


def test_unknown_input_type_fails():
    class Bad(Tool):
        name = "bad"
        description = "Bad tool."
        inputs = {"a": {"type": "int", "description": "a"}}
        output_type = "integer"

        def forward(self, a):
            return a

    with pytest.raises(ToolDefinitionError, match="'int'.* must be one of"):
        Bad()


def test_arguments_are_checked_per_call():
    assert search("moon", limit=2) == ["moon", "moon"]
    assert search({"query": "sun"}) == ["sun"]  # a dict of arguments, as models write
    with pytest.raises(AgentToolCallError, match="missing the required argument 'query'"):
        search()
    with pytest.raises(AgentToolCallError, match="should be string"):
        search(query=3)
    with pytest.raises(AgentToolCallError, match="unexpected arguments"):
        search(query="x", color="red")
    with pytest.raises(AgentToolCallError, match="should be integer"):
        search("x", limit=True)


async def test_async_tools_are_awaited_by_acall():
    @tool
    async def double(x: float) -> float:
        """Double a number.

        Args:
            x: The number.
        """
        return 2 * x

    assert double.is_async
    assert await double.acall(x=2) == 4


def test_final_answer_tool_passes_any_value():
    assert FinalAnswerTool()(answer={"a": 1}) == {"a": 1}


def test_any_and_union_hints():
    @tool
    def f(x: Any, y: int | str) -> Any:
        """F.

        Args:
            x: Anything.
            y: A number or text.
        """
        return x

    assert f.inputs["x"]["type"] == "any"
    assert f.inputs["y"]["type"] == ["integer", "string"]
    assert f(x=None, y="a") is None
