"""In-memory stand-ins for a transport and a clock: provider tests without sockets or waiting.

They run in both interpreters (no threads), so the retry and streaming logic
of the provider models is tested inside Pyodide too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import AsyncIterator

from wasm_agent.models.transport import HttpRequest, HttpResponse, read_whole


class FakeClock:
    """Time stands still until someone sleeps; every sleep is recorded."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Streamed:
    """A scripted streaming answer: these chunks, then `error` raised (a cut connection) or the end."""

    chunks: list[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    error: Exception | None = None


class _Response:
    def __init__(self, outcome: Streamed):
        self.status = outcome.status
        self.headers = outcome.headers
        self._outcome = outcome
        self.closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for chunk in self._outcome.chunks:
            yield chunk
        if self._outcome.error is not None:
            raise self._outcome.error

    async def read(self) -> bytes:
        return await read_whole(self)

    async def aclose(self) -> None:
        self.closed = True


class ScriptedTransport:
    """Answers requests with the given outcomes in order: an `HttpResponse`, a `Streamed`, or an exception."""

    def __init__(self, *outcomes: HttpResponse | Streamed | Exception):
        self.outcomes = list(outcomes)
        self.requests: list[HttpRequest] = []
        self.responses: list[_Response] = []

    def json_bodies(self) -> list[dict]:
        return [json.loads(request.body) for request in self.requests]

    def _next(self, request: HttpRequest):
        self.requests.append(request)
        if not self.outcomes:
            raise AssertionError(f"unexpected request #{len(self.requests)} to {request.url}")
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def request(self, request: HttpRequest) -> HttpResponse:
        outcome = self._next(request)
        if isinstance(outcome, Streamed):
            response = _Response(outcome)
            return HttpResponse(outcome.status, outcome.headers, await response.read())
        return outcome

    async def stream(self, request: HttpRequest) -> _Response:
        outcome = self._next(request)
        if isinstance(outcome, HttpResponse):
            outcome = Streamed([outcome.body], outcome.status, outcome.headers)
        response = _Response(outcome)
        self.responses.append(response)
        return response


def json_response(data: object, status: int = 200, **headers: str) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json", **headers}, json.dumps(data).encode())
