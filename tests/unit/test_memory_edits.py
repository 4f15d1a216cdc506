"""A step edited after it ran — by a step callback or any code holding the memory, by assignment or in
place — shows as edited in the next prompt, and the context check measures it as it is now."""

from wasm_agent import ActionStep, ChatMessage, CodeAgent, ScriptedModel, ToolCallingAgent, tool


def code(body: str) -> str:
    return f"Thought: I act.\n<code>\n{body}\n</code>"


def images_sent(call: dict) -> list:
    return [part["image"] for message in call["messages"] if isinstance(message.content, list)
            for part in message.content if part.get("type") == "image"]


def prompt_text(call: dict) -> str:
    return "\n".join(message.text for message in call["messages"])


async def test_earlier_steps_edited_in_place_or_by_assignment_show_in_the_next_prompt():
    def edit(step, agent):
        first = agent.memory.steps[1]
        if step.step_number == 1:
            step.observations_images = ["screenshot-1"]
        elif step.step_number == 2:  # step 1 has been shown to the model once already
            first.observations_images.append("screenshot-2")
            first.model_output = "Thought: rewritten.\n<code>\nx = 1\n</code>"
        elif step.step_number == 3:
            first.observations_images[0] = "screenshot-1b"  # same length, another image
            agent.memory.steps[2].error.message = "edited error text"

    model = ScriptedModel([code("x = 1"), code("1 / 0"), code("y = 2"), code("final_answer(x)")])
    agent = CodeAgent([], model, executor_type="inprocess", step_callbacks=[edit], verbosity_level=0)
    assert await agent.arun("Go") == 1
    second, third, fourth = model.calls[1:]
    assert images_sent(second) == ["screenshot-1"]
    assert images_sent(third) == ["screenshot-1", "screenshot-2"] and "rewritten" in prompt_text(third)
    assert "division by zero" in prompt_text(third)
    assert images_sent(fourth) == ["screenshot-1b", "screenshot-2"]
    assert "edited error text" in prompt_text(fourth) and "division by zero" not in prompt_text(fourth)


@tool
def lookup(city: str) -> str:
    """Weather of a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}"


def reply(name: str, arguments: dict, id: str) -> ChatMessage:
    return ChatMessage(role="assistant", tool_calls=[
        {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}])


async def test_edited_tool_calls_show_in_the_next_prompt_and_are_measured_again():
    def edit(step, agent):
        if step.step_number == 2:
            call = agent.memory.steps[1].tool_calls[0]
            call.arguments = {"city": "Rome"}
            call.observation = "storm in Rome " * 2000  # far more than this model's context holds

    model = ScriptedModel([reply("lookup", {"city": "Paris"}, "a"), reply("lookup", {"city": "Oslo"}, "b"),
                           reply("final_answer", {"answer": "done"}, "c")], max_context_tokens=2048)
    agent = ToolCallingAgent([lookup], model, step_callbacks=[edit], verbosity_level=0)
    assert await agent.arun("Weather?") == "done"
    second, third = model.calls[1]["messages"], model.calls[2]["messages"]
    assert [(m.role.value, m.content) for m in second if m.tool_call_id == "a"] == [("tool", "sunny in Paris")]
    assert agent.context_budget.fits(third)  # the long observation was measured, so step 1 was shortened
    call_a = next(c for m in third for c in m.tool_calls or () if c.id == "a")
    assert call_a.arguments == {"city": "Rome"}
    assert "storm in Rome" in next(m.content for m in third if m.tool_call_id == "a")
    kept = agent.memory.steps[1]
    assert isinstance(kept, ActionStep) and kept.tool_calls[0].observation.count("storm") == 2000  # memory keeps all


async def test_a_task_image_replaced_in_place_shows_in_the_next_prompt():
    def edit(step, agent):
        agent.memory.steps[0].task_images[0] = "the right picture"

    model = ScriptedModel([code("x = 1"), code("final_answer(x)")])
    agent = CodeAgent([], model, executor_type="inprocess", step_callbacks=[edit], verbosity_level=0)
    assert await agent.arun("Look", images=["a wrong picture"]) == 1
    assert images_sent(model.calls[0]) == ["a wrong picture"]
    assert images_sent(model.calls[1]) == ["the right picture"]
