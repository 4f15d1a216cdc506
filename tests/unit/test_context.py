"""A run never dies of its own context: observations capped, older steps shortened to fit."""

import pytest

from wasm_agent import ActionStep, CodeAgent, ScriptedModel, ToolCallingAgent
from wasm_agent.context import ContextBudget, cut_middle, estimate_tokens
from wasm_agent.messages import ChatMessage, ChatMessageToolCall, MessageRole

SMALL_PROMPTS = {"system_prompt": "Write Python in <code></code>; call final_answer(x) to answer."}


class SmallContextModel(ScriptedModel):
    """A scripted model that fails like llama.cpp when a prompt is longer than its context.

    Its own measure is independent of the agent's estimate: one token per character,
    an upper bound for any tokenizer on ASCII text.
    """

    async def agenerate(self, messages, **kwargs):
        size = sum(len(m.text) for m in messages)
        if size > self.max_context_tokens:
            raise RuntimeError(f"the prompt ({size} tokens) is longer than the context ({self.max_context_tokens})")
        return await super().agenerate(messages, **kwargs)


def code(body: str) -> str:
    return f"Thought: go.\n<code>\n{body}\n</code>"


@pytest.mark.cpython_only
def test_an_endless_printing_loop_on_a_small_context_model_goes_on_to_a_final_answer():
    from wasm_agent import ExecutionLimits, InProcessExecutor

    loop = "i = 0\nwhile True:\n    print(i)\n    i += 1"
    model = SmallContextModel([code(loop), code(loop), code("final_answer('done after ' + str(i > 0))")],
                              max_context_tokens=4096)
    executor = InProcessExecutor(limits=ExecutionLimits(timeout_seconds=0.3))
    agent = CodeAgent([], model, executor=executor, prompt_templates=SMALL_PROMPTS, max_steps=5)
    result = agent.run("Count forever", return_full_result=True)
    assert (result.state, result.output) == ("success", "done after True")
    steps = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    observation = steps[0].observations
    assert "cut from the middle of this output" in observation
    assert observation.splitlines()[1] == "0"  # the head is kept...
    *_, last_number, executor_note = [line for line in observation.splitlines() if line]
    assert last_number.isdigit() and int(last_number) > 1000  # ...and the tail
    assert "more characters were printed" in executor_note
    assert "0.3 s time limit" in steps[0].error.message
    assert len(model.calls) == 3


def test_observations_are_capped_relative_to_the_context_window():
    text = "\n".join(f"line {i}" for i in range(5000))
    small, large = ContextBudget(2048, 256), ContextBudget(65536, 1024)
    assert estimate_tokens(small.cap_observation(text)) < estimate_tokens(large.cap_observation(text))
    capped = small.cap_observation(text)
    assert capped.startswith("line 0\n") and capped.endswith("line 4999")
    assert "lines) cut from the middle" in capped
    assert small.cap_observation("short") == "short"


def test_cut_middle_says_how_much_was_cut():
    text = "z" * 3000
    capped = cut_middle(text, 100)
    cut = int(capped.split("[… ")[1].split(" characters")[0].replace(",", ""))
    assert cut + capped.count("z") == 3000


async def test_older_steps_are_shortened_first_then_left_out_and_the_memory_keeps_everything():
    body = "print('\\n'.join('word %d of a long story' % k for k in range(40)))"
    responses = [code(f"# step {n}\n{body}") for n in range(8)] + [code("final_answer('end')")]
    model = ScriptedModel(responses, max_context_tokens=2048)
    agent = CodeAgent([], model, executor_type="inprocess", prompt_templates=SMALL_PROMPTS, max_steps=12)
    assert await agent.arun("Tell a long story") == "end"
    budget = agent.context_budget
    for call in model.calls:
        assert budget.fits(call["messages"])
    last_prompt = "\n".join(m.text for m in model.calls[-1]["messages"])
    assert "Tell a long story" in last_prompt
    assert "# step 7" in last_prompt and "word 39 of a long story" in last_prompt  # the last step, whole
    assert "earlier step" in last_prompt and "left out here to fit" in last_prompt
    # a shortened step: its code without its thought, and a cut observation
    middle = model.calls[5]["messages"]
    shortened = [m.text for m in middle if m.role == MessageRole.ASSISTANT and "# step 1" in m.text]
    assert shortened and not shortened[0].startswith("Thought")
    steps = [s for s in agent.memory.steps if isinstance(s, ActionStep)]
    assert all("word 39 of a long story" in s.observations for s in steps[:8])  # the memory is whole


async def test_a_tool_calling_agent_fits_its_context_too():
    def tool_call(name, arguments, n):
        return ChatMessage(MessageRole.ASSISTANT, None, tool_calls=[
            ChatMessageToolCall(id=f"c{n}", name=name, arguments=arguments)])

    from wasm_agent import tool

    @tool
    def story(n: int) -> str:
        """A long story.

        Args:
            n: Which story.
        """
        return "\n".join(f"chapter {k} of story {n}" for k in range(600))

    responses = [tool_call("story", {"n": n}, n) for n in range(4)] + [tool_call("final_answer", {"answer": "ok"}, 9)]
    model = ScriptedModel(responses, max_context_tokens=2048)
    agent = ToolCallingAgent([story], model, max_steps=8)
    assert await agent.arun("Read") == "ok"
    for call in model.calls:
        assert agent.context_budget.fits(call["messages"])
    assert "cut from the middle" in agent.memory.steps[1].tool_calls[0].observation


def test_provider_models_take_their_context_size():
    from wasm_agent import OpenAIModel

    model = OpenAIModel("m", api_key="k", max_context_tokens=8192, max_tokens=300)
    budget = ContextBudget.for_model(model)
    assert (budget.context_tokens, budget.reply_tokens) == (8192, 300)
    assert "max_context_tokens" not in model.options  # never sent to the provider
