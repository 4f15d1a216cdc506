"""What smolagents' tests expect from their (unpublished) conftest and fixtures.

Written against smolagents' API and rewritten with the tests, so the same
file serves the reference run on smolagents and the run on wasm_agent.
"""

from unittest.mock import patch

import pytest

from smolagents.agents import MultiStepAgent
from smolagents.monitoring import LogLevel
from smolagents.tools import Tool, tool

_agent_init = MultiStepAgent.__init__


@pytest.fixture(autouse=True)
def quiet_agents():
    """Agents print nothing unless a test asks for a verbosity level."""

    def init(self, *args, verbosity_level=LogLevel.OFF, **kwargs):
        _agent_init(self, *args, verbosity_level=verbosity_level, **kwargs)

    with patch.object(MultiStepAgent, "__init__", autospec=True, side_effect=init):
        yield


@pytest.fixture
def shared_datadir(tmp_path):
    """The image the tests open (a small RGB picture stands in for the COCO photo)."""
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 120, 40)).save(tmp_path / "000000039769.png")
    return tmp_path


def _serialized_agent(version: str) -> dict:
    """An agent as `to_dict()` wrote it in smolagents 1.9, 1.10 and 1.20."""
    model = {"model_id": "Qwen/Qwen2.5-Coder-32B-Instruct", "provider": None}
    if version in ("v1.9", "v1.10"):
        model = {"last_input_token_count": None, "last_output_token_count": None, **model}
    planning = {key: f"dummy planning {key.replace('_', ' ')}" for key in (
        "initial_facts", "initial_plan", "update_facts_pre_messages", "update_facts_post_messages",
        "update_plan_pre_messages", "update_plan_post_messages")}
    data = {
        "tools": [],
        "model": {"class": "InferenceClientModel", "data": model},
        "managed_agents": {},
        "prompt_templates": {
            "system_prompt": "dummy system prompt",
            "planning": planning,
            "managed_agent": {"task": "dummy managed agent task", "report": "dummy managed agent report"},
            "final_answer": {"pre_messages": "dummy final answer pre messages",
                             "post_messages": "dummy final answer post messages"},
        },
        "max_steps": 10,
        "verbosity_level": 2,
        "planning_interval": 2,
        "name": "test_agent",
        "description": "dummy description",
        "requirements": ["smolagents"],
        "authorized_imports": ["pandas"],
    }
    if version == "v1.9":
        data["grammar"] = None
    else:
        data.update(executor_type="local", executor_kwargs={}, max_print_outputs_length=None)
        if version == "v1.10":
            data["grammar"] = None
    return data


@pytest.fixture
def get_agent_dict():
    return _serialized_agent


# Tools the tests take as fixtures.

@pytest.fixture
def test_tool():
    class EchoTool(Tool):
        name = "test_tool"
        description = "A test tool"
        inputs = {"input": {"type": "string", "description": "Input value"}}
        output_type = "string"

        def forward(self, input):
            if input == "error":
                raise ValueError("Tool execution error")
            return f"Processed: {input}"

    return EchoTool()


@pytest.fixture
def no_input_tool():
    class NoInputTool(Tool):
        name = "no_input_tool"
        description = "Tool with no inputs"
        inputs = {}
        output_type = "string"

        def forward(self):
            return "test"

    return NoInputTool()


@pytest.fixture
def single_input_tool():
    class SingleInputTool(Tool):
        name = "single_input_tool"
        description = "Tool with one input"
        inputs = {"text": {"type": "string", "description": "Input text"}}
        output_type = "string"

        def forward(self, text):
            return "test"

    return SingleInputTool()


@pytest.fixture
def multi_input_tool():
    class MultiInputTool(Tool):
        name = "multi_input_tool"
        description = "Tool with multiple inputs"
        inputs = {"text": {"type": "string", "description": "Text input"},
                  "count": {"type": "integer", "description": "Number count"}}
        output_type = "object"

        def forward(self, text, count):
            return "test"

    return MultiInputTool()


@pytest.fixture
def multiline_description_tool():
    class MultilineDescriptionTool(Tool):
        name = "multiline_description_tool"
        description = "This is a tool with\nmultiple lines\nin the description"
        inputs = {"input": {"type": "string", "description": "Some input"}}
        output_type = "string"

        def forward(self, input):
            return "test"

    return MultilineDescriptionTool()


@pytest.fixture
def example_tool():
    @tool
    def valid_tool_function(input: str) -> str:
        """A valid tool function.

        Args:
            input (str): Input string.
        """
        return input.upper()

    return valid_tool_function


@pytest.fixture
def boolean_default_tool_class():
    class BooleanDefaultTool(Tool):
        name = "boolean_default_tool"
        description = "A tool with a boolean default parameter"
        inputs = {"text": {"type": "string", "description": "Input text"},
                  "flag": {"type": "boolean", "description": "Boolean flag with default value", "nullable": True}}
        output_type = "string"

        def forward(self, text: str, flag: bool = False) -> str:
            return f"Text: {text}, Flag: {flag}"

    return BooleanDefaultTool()


@pytest.fixture
def boolean_default_tool_function():
    @tool
    def boolean_default_tool(text: str, flag: bool = False) -> str:
        """
        A tool with a boolean default parameter.

        Args:
            text: Input text
            flag: Boolean flag with default value
        """
        return f"Text: {text}, Flag: {flag}"

    return boolean_default_tool


@pytest.fixture
def optional_input_tool_class():
    class OptionalInputTool(Tool):
        name = "optional_input_tool"
        description = "A tool with an optional input parameter"
        inputs = {"required_text": {"type": "string", "description": "Required input text"},
                  "optional_text": {"type": "string", "description": "Optional input text", "nullable": True}}
        output_type = "string"

        def forward(self, required_text: str, optional_text: str | None = None) -> str:
            return f"{required_text} + {optional_text}" if optional_text else required_text

    return OptionalInputTool()


@pytest.fixture
def optional_input_tool_function():
    @tool
    def optional_input_tool(required_text: str, optional_text: str | None = None) -> str:
        """
        A tool with an optional input parameter.

        Args:
            required_text: Required input text
            optional_text: Optional input text
        """
        return f"{required_text} + {optional_text}" if optional_text else required_text

    return optional_input_tool
