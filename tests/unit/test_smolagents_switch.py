"""A smolagents script, with only its import changed, runs here."""

import pytest

from wasm_agent import ActionStep, ChatMessage, CodeAgent, MessageRole, Model, Tool, ToolCallingAgent, tool


class CannedModel(Model):
    """A smolagents-style model: synchronous `generate` returning a ChatMessage."""

    def __init__(self, answers):
        super().__init__(model_id="canned")
        self.answers = list(answers)

    def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
        return ChatMessage(role=MessageRole.ASSISTANT, content=self.answers.pop(0))


@tool
def get_weather(location: str, celsius: bool | None = False) -> str:
    """Get the weather in the next few days at a given location.

    Args:
        location: the location
        celsius: the temperature unit
    """
    return f"The weather in {location} is sunny with temperatures of {21 if celsius else 70}"


class UpperTool(Tool):
    name = "upper"
    description = "Upper-cases text."
    inputs = {"text": {"type": "string", "description": "the text"}}
    output_type = "string"

    def forward(self, text: str):
        return text.upper()


def test_a_smolagents_script_runs_unchanged_but_for_the_import():
    model = CannedModel([
        "Thought: check the weather.\n<code>\nreport = get_weather(location='Paris', celsius=True)\n"
        "print(report)\n</code>",
        "Thought: shout it.\n<code>\nfinal_answer(upper(text=report))\n</code>",
    ])
    seen = []
    agent = CodeAgent(tools=[get_weather, UpperTool()], model=model, max_steps=5, verbosity_level=0,
                      additional_authorized_imports=["math"], executor_type="inprocess",
                      step_callbacks=[lambda step: seen.append(step.step_number)
                                      if isinstance(step, ActionStep) else None])
    answer = agent.run("What's the weather like in Paris?")
    assert answer == "THE WEATHER IN PARIS IS SUNNY WITH TEMPERATURES OF 21"
    assert seen == [1, 2]
    assert [type(s).__name__ for s in agent.memory.steps] == ["TaskStep", "ActionStep", "ActionStep"]
    assert agent.memory.steps[1].observations.startswith("Execution logs:\nThe weather in Paris")


def test_tool_calling_agent_with_a_smolagents_style_model():
    model = CannedModel(['{"name": "final_answer", "arguments": {"answer": "done"}}'])
    assert ToolCallingAgent(tools=[get_weather], model=model).run("Go") == "done"


def test_smolagents_only_options_fail_clearly():
    with pytest.raises(ValueError, match="'sandbox'.*'inprocess'"):
        CodeAgent(tools=[], model=CannedModel([]), executor_type="local")
    with pytest.raises(ValueError, match="base tools"):
        CodeAgent(tools=[], model=CannedModel([]), add_base_tools=True, executor_type="inprocess")
