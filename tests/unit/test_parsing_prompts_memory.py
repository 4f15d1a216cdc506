import json

import pytest

from wasm_agent import (ActionStep, AgentExecutionError, AgentMemory, AgentParsingError, ChatMessage,
                        PlanningStep, TaskStep, TokenUsage, ToolCall)
from wasm_agent.errors import PromptTemplateError
from wasm_agent.memory import FinalAnswerStep
from wasm_agent.parsing import extract_code, parse_json_tool_call
from wasm_agent.prompts import load_prompts, render


def test_code_tags_and_fenced_blocks_are_both_accepted():
    assert extract_code("Thought: hi\n<code>\nx = 1\n</code>") == "x = 1"
    assert extract_code("Thought: hi\n```python\nx = 2\n```") == "x = 2"
    assert extract_code("```py\nx = 3\n```") == "x = 3"


def test_a_block_cut_by_the_stop_sequence_still_counts():
    assert extract_code("Thought: go\n<code>\nprint(1)\n") == "print(1)"


def test_several_blocks_are_joined():
    assert extract_code("<code>a = 1</code> then <code>b = 2</code>") == "a = 1\n\nb = 2"


def test_missing_code_block_says_how_to_write_one():
    with pytest.raises(AgentParsingError, match="<code>"):
        extract_code("I think the answer is 4.")


def test_bare_code_with_final_answer_is_accepted():
    assert extract_code("final_answer(4)") == "final_answer(4)"


def test_json_tool_call_is_found_in_text():
    assert parse_json_tool_call('Call: {"name": "add", "arguments": {"a": 1}} done') == ("add", {"a": 1})
    with pytest.raises(AgentParsingError):
        parse_json_tool_call("no call here {broken")


def test_render_is_strict():
    assert render("a {{x}} b", x=1) == "a 1 b"
    with pytest.raises(PromptTemplateError, match="'y'"):
        render("{{ y }}", x=1)


def test_every_template_renders_with_the_variables_the_agents_give():
    names = {"tools", "managed_agents", "instructions", "authorized_imports", "task", "remaining_steps",
             "agents", "name", "final_answer"}
    for file in ("common", "code_agent", "toolcalling_agent"):
        def walk(node):
            if isinstance(node, dict):
                for value in node.values():
                    walk(value)
            else:
                render(node, **{n: "X" for n in names})
        walk(load_prompts(file))


def _memory():
    memory = AgentMemory("system")
    memory.steps.append(TaskStep(task="Add numbers"))
    memory.steps.append(PlanningStep(plan="1. add", token_usage=TokenUsage(1, 2)))
    memory.steps.append(ActionStep(
        step_number=1, model_output="Thought: add\n<code>x = 1 + 1</code>", code_action="x = 1 + 1",
        tool_calls=[ToolCall("python_interpreter", "x = 1 + 1", "call_1")],
        observations="Last output from code snippet:\nNone", token_usage=TokenUsage(10, 5),
        model_output_message=ChatMessage(role="assistant", content="Thought: add")))
    memory.steps.append(ActionStep(step_number=2, model_output="oops", error=AgentExecutionError("bad")))
    memory.steps.append(ActionStep(step_number=3, action_output=object(), is_final_answer=True))
    memory.steps.append(FinalAnswerStep(output=2))
    return memory


def test_memory_round_trips_through_json():
    memory = _memory()
    data = json.loads(json.dumps(memory.to_dict()))
    again = AgentMemory.from_dict(data)
    assert again.to_dict() == data
    assert isinstance(again.steps[3].error, AgentExecutionError)
    assert again.steps[3].error.message == "bad"
    assert again.steps[2].token_usage == TokenUsage(10, 5)
    assert "__repr__" in again.steps[4].action_output  # not JSON: kept as its repr
    assert [m.to_dict() for m in again.to_messages()] == [m.to_dict() for m in memory.to_messages()[:]]


def test_memory_becomes_messages_the_model_can_read():
    messages = _memory().to_messages()
    roles = [m.role.value for m in messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "tool-response", "assistant",
                     "tool-response"]
    assert messages[1].text == "New task:\nAdd numbers"
    assert messages[5].text.startswith("Observation:\nLast output")
    assert messages[7].text.startswith("Error:\nbad")


def test_native_tool_call_steps_become_tool_messages():
    step = ActionStep(step_number=1, native_tool_calls=True,
                      tool_calls=[ToolCall("add", {"a": 1}, "c1", observation="2"),
                                  ToolCall("add", {"a": 2}, "c2", observation="Error: boom")])
    messages = step.to_messages()
    assert messages[0].tool_calls[1].id == "c2"
    assert [(m.role.value, m.tool_call_id, m.content) for m in messages[1:]] == [
        ("tool", "c1", "2"), ("tool", "c2", "Error: boom")]
