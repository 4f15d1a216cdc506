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
    assert [m["role"] for m in first["messages"][1:5]] == ["user", "assistant", "user", "assistant"]  # few-shot turns
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
