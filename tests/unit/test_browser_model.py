"""BrowserModel against a scripted stand-in for the JS handle of web/browser-model.js.

The real model runs in Chromium: tests/e2e/test_browser_model.py.
"""

import json

from wasm_agent import CodeAgent
from wasm_agent.models.browser import BrowserModel


class FakeHandle:
    """Speaks the handle's protocol: info() and stream(json) -> {next(), cancel()}, strings only."""

    def __init__(self, pieces, *, prompt_variant="small", usage=(120, 9)):
        self.pieces, self.prompt_variant, self.usage = pieces, prompt_variant, usage
        self.requests: list[dict] = []
        self.cancelled = 0

    def info(self):
        return json.dumps({"name": "tiny", "promptVariant": self.prompt_variant})

    def stream(self, request_json):
        self.requests.append(json.loads(request_json))
        events = [{"type": "prompt", "processed": 10, "total": 20, "cached": 0}]  # reading the prompt: not text
        events += [{"type": "delta", "text": piece} for piece in self.pieces.pop(0)]
        events.append({"type": "done", "usage": {"inputTokens": self.usage[0], "outputTokens": self.usage[1]},
                       "timings": {"cache_n": 100, "prompt_n": 20}})
        handle = self

        class Stream:
            async def next(self):
                return json.dumps(events.pop(0)) if events else None

            def cancel(self):
                handle.cancelled += 1

        return Stream()


async def test_streams_deltas_then_usage_and_sends_stop_sequences():
    handle = FakeHandle([["Thought: add.\n", "<code>\nfinal_answer(1 + 1)\n"]])
    model = BrowserModel(handle)
    deltas = [delta async for delta in model.generate_stream([{"role": "user", "content": "hi"}],
                                                             stop_sequences=["</code>", ""])]
    assert [d.content for d in deltas[:2]] == ["Thought: add.\n", "<code>\nfinal_answer(1 + 1)\n"]
    assert (deltas[-1].token_usage.input_tokens, deltas[-1].token_usage.output_tokens) == (120, 9)
    assert handle.requests[0] == {"messages": [{"role": "user", "content": "hi"}], "stop": ["</code>"],
                                  "maxTokens": 200, "temperature": 0.0, "seed": 0, "options": {}}
    assert BrowserModel(FakeHandle([], prompt_variant=None)).max_tokens == 512  # a bigger model, longer steps
    assert model.last_timings["cache_n"] == 100 and handle.cancelled == 0


async def test_prompt_variant_follows_the_js_side_unless_given():
    assert BrowserModel(FakeHandle([])).prompt_variant == "small"
    assert BrowserModel(FakeHandle([], prompt_variant=None)).prompt_variant is None
    assert BrowserModel(FakeHandle([]), prompt_variant=None).prompt_variant is None


async def test_code_agent_runs_on_it_with_the_small_prompt_and_few_shot_turns():
    handle = FakeHandle([["Thought: compute.\n<code>\nx = 6 * 7\nprint(x)\n"],
                         ["Thought: done.\n<code>\nfinal_answer(x)\n"]])
    agent = CodeAgent([], BrowserModel(handle), executor_type="inprocess", max_steps=3)
    assert await agent.arun("What is 6 * 7?") == 42
    first, second = handle.requests
    assert first["messages"][0]["role"] == "system" and len(first["messages"][0]["content"]) < 1200
    # One worked example, the closest to the task (arithmetic), as chat turns before the task.
    assert [(m["role"], m["content"]) for m in first["messages"][1:]] == [
        ("user", "New task:\nWhat is 17 * 23 + 5?"),
        ("assistant", "Thought: I will compute it.\n<code>\nfinal_answer(17 * 23 + 5)\n</code>"),
        ("user", "New task:\nWhat is 6 * 7?")]
    assert "</code>" in first["stop"]
    # The second step's messages extend the first's: the JS side's KV cache covers the shared prefix.
    assert second["messages"][:len(first["messages"])] == first["messages"]
    assert "42" in second["messages"][-1]["content"]


async def test_an_abandoned_stream_is_cancelled_on_the_js_side():
    handle = FakeHandle([["a", "b", "c"]])
    stream = BrowserModel(handle).generate_stream([{"role": "user", "content": "hi"}])
    await stream.__anext__()
    await stream.aclose()
    assert handle.cancelled == 1


async def test_the_small_code_agent_constrains_the_model_with_its_grammar_and_knows_its_context():
    handle = FakeHandle([["Thought: add.\n<code>\nfinal_answer(2 + 3)\n"]])
    model = BrowserModel(handle)
    assert model.max_context_tokens == 4096  # the KV cache's size when the JS side does not say
    agent = CodeAgent([], model, executor_type="inprocess")
    assert await agent.arun("2 + 3?") == 5
    grammar = handle.requests[0]["options"]["grammar"]
    assert grammar.startswith('root ::= "Thought: "') and '"final_answer("' in grammar
    assert agent.context_budget.context_tokens == 4096


async def test_the_small_prompt_gives_the_examples_closest_to_the_task_the_best_one_last():
    async def examples(task):
        handle = FakeHandle([["Thought: go.\n<code>\nfinal_answer(1)\n"]])
        agent = CodeAgent([], BrowserModel(handle), executor_type="inprocess")
        await agent.arun(task)
        sent = handle.requests[0]["messages"]
        assert sent[-1]["content"] == f"New task:\n{task}" and len(sent[0]["content"]) < 600
        return [m["content"].removeprefix("New task:\n") for m in sent[1:-1:2]]

    assert await examples("Reverse the word 'wasm'.") == ["Write the word 'python' backwards."]
    # Two kinds match: both are given, the one with more matching words ("add", "total") next to the task.
    assert await examples("Add the days of March and April for a total.") == [
        "How many days are there from 2023-02-10 to 2023-04-02?", "What is the sum of the numbers from 1 to 10?"]
    assert await examples("Tell me a joke.") == ["What is 17 * 23 + 5?"]  # nothing matches: the first example


async def test_a_step_after_a_failed_one_samples_instead_of_repeating_the_greedy_answer():
    handle = FakeHandle([["Thought: try.\n<code>\nfinal_answer(undefined_name)\n"],
                         ["Thought: again.\n<code>\nfinal_answer(other_name)\n"],
                         ["Thought: fixed.\n<code>\nfinal_answer(42)\n"]])
    agent = CodeAgent([], BrowserModel(handle), executor_type="inprocess", max_steps=3)
    assert await agent.arun("What is 6 * 7?") == 42
    assert [(r["temperature"], r["seed"]) for r in handle.requests] == [(0.0, 0), (0.7, 1), (0.7, 2)]
    assert handle.requests[1]["messages"][-1]["content"].startswith("Error:\nCode execution failed")
    # A temperature the caller chose is kept, and retry_temperature=0 keeps every step greedy.
    model = BrowserModel(FakeHandle([]), retry_temperature=0)
    assert model.request(handle.requests[2]["messages"])["temperature"] == 0.0
