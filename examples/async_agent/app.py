"""A web service that makes an agent per request (smolagents' examples/async_agent, on wasm-agent).

    pip install wasm-agent starlette uvicorn
    OPENAI_API_KEY=sk-... uvicorn examples.async_agent.app:app
    curl -X POST localhost:8000/run-agent -H 'Content-Type: application/json' -d '{"task": "What is 2+2?"}'

Each request makes its own `CodeAgent` and runs it with `await agent.arun(task)`: no thread
is needed, since the agent is async and its code runs in a WASM sandbox (a Deno process),
not in the server. The sandbox comes from the process's pool and goes back when the
`async with` block ends, reset before the next request uses it: requests share a few warm
sandboxes instead of starting one each, and none is left behind.
(`wasm_agent.configure_sandboxes(max_workers=...)` sets how many run at once.)
"""

from __future__ import annotations

import os
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from wasm_agent import CodeAgent, Model, OpenAIModel


def default_model() -> Model:
    return OpenAIModel(os.environ.get("WASM_AGENT_MODEL", "gpt-4o-mini"), api_base=os.environ.get("OPENAI_BASE_URL"))


def create_app(make_model: Callable[[], Model] = default_model, **agent_options) -> Starlette:
    """The app; `make_model` gives each request's agent its model (tests pass a scripted one)."""

    async def run_agent(request: Request) -> JSONResponse:
        data = await request.json()
        task = data.get("task")
        if not task:
            return JSONResponse({"error": 'Missing "task" in request body.'}, status_code=400)
        try:
            async with CodeAgent(tools=[], model=make_model(), verbosity_level=0, **agent_options) as agent:
                result = await agent.arun(task)
            return JSONResponse({"result": result})
        except Exception as error:  # noqa: BLE001 - the client gets the reason
            return JSONResponse({"error": f"{type(error).__name__}: {error}"}, status_code=500)

    return Starlette(routes=[Route("/run-agent", run_agent, methods=["POST"])])


app = create_app()
