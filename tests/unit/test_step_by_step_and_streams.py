"""smolagents' ways to drive an agent and a model by hand: `agent.step()` in your own loop, a model's
`generate_stream` iterated with `for`, a custom model whose `generate_stream` is a plain generator,
and `push_to_hub`, which says what to do instead."""

import pytest

from wasm_agent import (ActionOutput, ActionStep, ChatMessage, ChatMessageStreamDelta, CodeAgent, Model,
                        ScriptedModel, TaskStep, ToolCallingAgent)


def code(body):
    return f"Thought: go.\n<code>\n{body}\n</code>"


def final_call(answer):
    return ChatMessage(role="assistant", tool_calls=[
        {"id": "c1", "type": "function", "function": {"name": "final_answer", "arguments": {"answer": answer}}}])


@pytest.mark.parametrize("make", [
    lambda: CodeAgent([], ScriptedModel([code("x = 20"), code("final_answer(x + 1)")]), executor_type="inprocess",
                      verbosity_level=0),
    lambda: ToolCallingAgent([], ScriptedModel(["Let me think.", final_call(21)]), verbosity_level=0),
], ids=["code", "toolcalling"])
def test_an_agent_driven_one_step_at_a_time(make):
    agent = make()
    agent.memory.steps.append(TaskStep(task="What is 20 + 1?", task_images=[]))
    outputs = []
    for step_number in range(1, 5):
        memory_step = ActionStep(step_number=step_number, observations_images=[])
        try:
            outputs.append(agent.step(memory_step))
        except Exception as error:  # noqa: BLE001 - a step's error is the caller's to record, as smolagents'
            memory_step.error = error
        agent.memory.steps.append(memory_step)
        if outputs and outputs[-1].is_final_answer:
            break
    assert outputs[-1] == ActionOutput(output=21, is_final_answer=True) and step_number == 2
    assert [type(s).__name__ for s in agent.memory.steps] == ["TaskStep", "ActionStep", "ActionStep"]
    assert agent.memory.steps[2].timing.end_time is not None


def test_a_step_sees_the_memory_the_caller_edited():
    model = ScriptedModel([code("final_answer('ok')")])
    agent = CodeAgent([], model, executor_type="inprocess", verbosity_level=0)
    agent.memory.steps.append(TaskStep(task="Check the note."))
    agent.memory.steps.append(ActionStep(step_number=1, model_output="Thought: noted.", observations="The key is 7."))
    assert agent.step(ActionStep(step_number=2)).output == "ok"
    assert "The key is 7." in str([m.content for m in model.calls[0]["messages"]])


class SmolStreamingModel(Model):
    """A custom model the smolagents way: sync `generate`, and `generate_stream` as a plain generator."""

    def generate(self, messages, stop_sequences=None, **kwargs):
        return ChatMessage(role="assistant", content=code("final_answer('whole')"))

    def generate_stream(self, messages, stop_sequences=None, **kwargs):
        for piece in ["Thought: streaming.\n<code>\n", "final_answer(", "'streamed')\n</code>"]:
            yield ChatMessageStreamDelta(content=piece)


def test_a_model_whose_generate_stream_is_a_plain_generator_streams_into_the_agent():
    model = SmolStreamingModel()
    assert model.supports_streaming
    agent = CodeAgent([], model, executor_type="inprocess", stream_outputs=True, verbosity_level=0)
    events = list(agent.run("Stream it.", stream=True))
    assert [e.content for e in events if isinstance(e, ChatMessageStreamDelta)] == [
        "Thought: streaming.\n<code>\n", "final_answer(", "'streamed')\n</code>"]
    assert events[-1].output == "streamed"
    assert [d.content for d in model.generate_stream([])][1] == "final_answer("  # still a generator for its user


def test_generate_stream_is_iterated_with_for_or_async_for():
    class Whole(Model):
        def generate(self, messages, **kwargs):
            return ChatMessage(role="assistant", content="all at once")

    deltas = list(Whole().generate_stream([ChatMessage(role="user", content="hi")]))
    assert [d.content for d in deltas] == ["all at once"]

    async def collect():
        return [d.content async for d in Whole().generate_stream([ChatMessage(role="user", content="hi")])]

    from wasm_agent.platform import block_on
    assert block_on(collect()) == ["all at once"]


@pytest.mark.cpython_only
def test_a_provider_stream_iterated_with_for(tmp_path):
    from providers.mock import MockProviderServer

    from wasm_agent.models import OpenAIModel

    with MockProviderServer(api_key="k") as server:
        server.script({"text": "one two three four"})
        model = OpenAIModel("mock-model", api_base=server.openai_base, api_key="k")
        pieces = [delta.content for delta in model.generate_stream([ChatMessage(role="user", content="count")])
                  if delta.content]
    assert len(pieces) > 1 and "".join(pieces) == "one two three four"


def test_push_to_hub_says_how_to_publish_instead():
    agent = CodeAgent([], ScriptedModel([]), executor_type="inprocess", verbosity_level=0)
    with pytest.raises(NotImplementedError, match=r"wasm-agent build --config agent.toml"):
        agent.push_to_hub("me/my-agent")
    with pytest.raises(NotImplementedError, match="static site"):
        CodeAgent.from_hub("me/my-agent")
