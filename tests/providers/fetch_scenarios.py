"""Provider calls through the fetch transport, against the mock server at argv[0].

Run inside Pyodide (under Node by run_in_pyodide.mjs, in Chromium by
browser_check.html); prints one JSON object: scenario name -> what happened.
test_models_fetch.py and test_models_browser.py check it. argv[1], when
given, is a mock that sends no CORS headers. Each scenario scripts the mock through its control endpoint.
"""

import json
import time

from js import fetch
from pyodide.ffi import to_js

from wasm_agent.errors import AgentGenerationError
from wasm_agent.messages import ChatMessage, agglomerate_stream_deltas
from wasm_agent.models import AnthropicModel, GeminiModel, OpenAIModel, RetryPolicy
from wasm_agent.models.transport import default_transport

URL = argv[0]  # noqa: F821 - a global given by the page or runner
NO_CORS_URL = argv[1] if len(argv) > 1 else None  # noqa: F821
HELLO = [ChatMessage(role="user", content="Say hello.")]


class NoWaitClock:
    def __init__(self):
        self.sleeps = []

    def time(self):
        return 1_700_000_000.0

    async def sleep(self, seconds):
        self.sleeps.append(seconds)


async def script(*replies):
    await fetch(URL + "/_mock/reset", to_js({"method": "POST"}))
    await fetch(URL + "/_mock/script", to_js({"method": "POST", "body": json.dumps(list(replies))}))


async def requests():
    return json.loads(await (await fetch(URL + "/_mock/requests")).text())


def model(cls=OpenAIModel, **kwargs):
    base = {OpenAIModel: URL + "/v1", AnthropicModel: URL, GeminiModel: URL + "/v1beta"}[cls]
    kwargs.setdefault("clock", NoWaitClock())
    kwargs.setdefault("retry_policy", RetryPolicy(max_retries=1, jitter=0))
    return cls("mock-model", api_base=base, api_key="key", **kwargs)


async def error_of(coroutine):
    try:
        await coroutine
    except AgentGenerationError as exc:
        return exc.message
    return None


async def collect(m):
    return [d async for d in m.generate_stream(HELLO)]


async def scenarios() -> dict:
    results = {"transport": type(default_transport()).__name__}
    for cls in (OpenAIModel, AnthropicModel, GeminiModel):
        await script({"text": "Hi there.", "usage": [7, 2]})
        answer = await model(cls).agenerate(HELLO)
        preflights = [r for r in await requests() if r["method"] == "OPTIONS"]  # cached after the first
        await script({"text": "one two three", "tool_calls": [{"id": "c1", "name": "add", "arguments": {"a": 1}}]})
        deltas = await collect(model(cls))
        streamed = agglomerate_stream_deltas(deltas)
        results[cls.__name__] = {"preflight": preflights[0]["headers"].get("access-control-request-headers")
                                 if preflights else None,
                                 "text": answer.content, "tokens": answer.token_usage.total_tokens,
                                 "deltas": len(deltas), "stream_text": streamed.content,
                                 "call": [streamed.tool_calls[0].name, streamed.tool_calls[0].parsed_arguments()]}

    clock = NoWaitClock()
    await script({"status": 429, "retry_after": "4"}, "after the wait")
    results["retry_after"] = [(await model(clock=clock).agenerate(HELLO)).content, clock.sleeps]

    await script({"delay": 3}, {"delay": 3})
    results["timeout"] = await error_of(model(timeout=0.3).agenerate(HELLO))

    await script({"text": "one two three four five six", "stall": 3})
    results["stall"] = await error_of(collect(model(timeout=0.3)))

    await script({"text": "lost", "truncate": True, "truncate_after": 0}, "kept")
    results["cut_early"] = agglomerate_stream_deltas(await collect(model())).content

    await script({"text": "cut", "truncate": True}, "whole")
    results["truncated_json"] = (await model().agenerate(HELLO)).content

    results["refused"] = await error_of(OpenAIModel("m", api_base="http://127.0.0.1:9/v1", max_retries=0)
                                        .agenerate(HELLO))

    if NO_CORS_URL:  # browser runs: a provider that does not answer preflights
        results["no_cors"] = await error_of(OpenAIModel("m", api_base=NO_CORS_URL + "/v1", max_retries=0)
                                            .agenerate(HELLO))

    await script({"text": " ".join(["word"] * 40), "stall": 3})
    stream = model(timeout=10).generate_stream(HELLO)
    first = await stream.__anext__()
    started = time.monotonic()
    await stream.aclose()
    results["close_seconds"] = time.monotonic() - started if first.content else None

    return results


print(json.dumps(await scenarios()))  # noqa: F704 - runPythonAsync allows top-level await
