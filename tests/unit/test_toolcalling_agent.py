import asyncio

from wasm_agent import (AgentParsingError, AgentToolCallError, AgentToolExecutionError, ChatMessage, ScriptedModel,
                        ToolCallingAgent, tool)

calls = []


@tool
def lookup(city: str) -> str:
    """Weather of a city.

    Args:
        city: The city.
    """
    calls.append(city)
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"sunny in {city}"


@tool
async def slow_lookup(city: str) -> str:
    """Slow weather lookup.

    Args:
        city: The city.
    """
    await asyncio.sleep(0.05)
    return f"rainy in {city}"


def call(name, arguments, id="c1"):
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def reply(*tool_calls, content=None):
    return ChatMessage(role="assistant", content=content, tool_calls=list(tool_calls))


async def test_several_tool_calls_in_one_step_then_final_answer():
    agent = ToolCallingAgent([lookup, slow_lookup], ScriptedModel([
        reply(call("lookup", '{"city": "Paris"}', "a"), call("slow_lookup", {"city": "Oslo"}, "b")),
        reply(call("final_answer", {"answer": "done"}, "c")),
    ]))
    assert await agent.arun("Weather?") == "done"
    step = agent.memory.steps[1]
    assert [c.observation for c in step.tool_calls] == ["sunny in Paris", "rainy in Oslo"]
    second = agent.model.calls[1]["messages"]
    assert [(m.role.value, m.tool_call_id, m.content) for m in second[-2:]] == [
        ("tool", "a", "sunny in Paris"), ("tool", "b", "rainy in Oslo")]
    assert second[-3].tool_calls[0].name == "lookup"
    assert {t.name for t in agent.model.calls[0]["tools"]} == {"lookup", "slow_lookup", "final_answer"}


async def test_tool_error_and_bad_arguments_become_observations():
    agent = ToolCallingAgent([lookup], ScriptedModel([
        reply(call("lookup", {"city": "Atlantis"})),
        reply(call("lookup", {"town": "Paris"})),
        reply(call("nowhere", {})),
        reply(call("final_answer", {"answer": "ok"})),
    ]))
    assert await agent.arun("Go") == "ok"
    errors = [step.error for step in agent.memory.steps[1:4]]
    assert isinstance(errors[0], AgentToolExecutionError) and "no such city" in errors[0].message
    assert isinstance(errors[1], AgentToolCallError) and "unexpected arguments ['town']" in errors[1].message
    assert "Unknown tool 'nowhere'" in errors[2].message
    tool_message = agent.model.calls[1]["messages"][-1]
    assert tool_message.role.value == "tool" and "no such city" in tool_message.content


async def test_json_in_text_is_accepted_when_the_model_has_no_native_calls():
    agent = ToolCallingAgent([lookup], ScriptedModel([
        'Call: {"name": "lookup", "arguments": {"city": "Rome"}}',
        '{"name": "final_answer", "arguments": {"answer": "sunny"}}',
    ]))
    assert await agent.arun("Go") == "sunny"
    assert agent.memory.steps[1].tool_calls[0].observation == "sunny in Rome"


async def test_plain_text_without_a_call_is_a_parsing_error_and_the_run_goes_on():
    agent = ToolCallingAgent([], ScriptedModel(["I don't know", reply(call("final_answer", {"answer": 1}))]))
    assert await agent.arun("Go") == 1
    assert isinstance(agent.memory.steps[1].error, AgentParsingError)
    assert agent.model.calls[1]["messages"][-1].text.startswith("Error:\nThe model output contained no tool call")


async def test_managed_agent_as_a_native_tool():
    worker = ToolCallingAgent([], ScriptedModel([reply(call("final_answer", {"answer": "42"}))]),
                              name="oracle", description="Knows answers.")
    manager = ToolCallingAgent([], ScriptedModel([
        reply(call("oracle", {"task": "the answer?"})),
        reply(call("final_answer", {"answer": "ok"})),
    ]), managed_agents=[worker])
    assert await manager.arun("Ask") == "ok"
    assert "42" in manager.memory.steps[1].tool_calls[0].observation
    schemas = [t.to_json_schema()["function"]["name"] for t in manager.model.calls[0]["tools"]]
    assert "oracle" in schemas
