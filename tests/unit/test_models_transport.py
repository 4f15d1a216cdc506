"""The CPython transport (http.client on a thread) against a loopback server."""

import asyncio
import time

import pytest

from wasm_agent.models.transport import (
    HttpRequest,
    StdlibTransport,
    TransportError,
    TransportTimeout,
    default_transport,
)

pytestmark = pytest.mark.cpython_only


@pytest.fixture(scope="module")
def server():
    from providers.mock import MockProviderServer

    with MockProviderServer() as server:
        yield server


def chat(server, *, stream=False, timeout=5.0):
    payload = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return HttpRequest.post_json(server.openai_base + "/chat/completions", {}, payload, timeout)


def test_cpython_picks_the_stdlib_transport():
    assert isinstance(default_transport(), StdlibTransport)


async def test_request_returns_status_headers_and_body(server):
    response = await StdlibTransport().request(chat(server))
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert b'"chat.completion"' in response.body


async def test_stream_yields_chunks_before_the_body_is_finished(server):
    server.script({"text": "one two three four", "stall": 1.0})
    response = await StdlibTransport().stream(chat(server, stream=True))
    start = time.monotonic()
    try:
        first = await response.chunks().__anext__()
        assert time.monotonic() - start < 0.5 and first.startswith(b"data: ")
    finally:
        await response.aclose()


async def test_no_byte_within_the_timeout_raises_transport_timeout(server):
    server.script({"delay": 3})
    start = time.monotonic()
    with pytest.raises(TransportTimeout):
        await StdlibTransport().request(chat(server, timeout=0.3))
    assert time.monotonic() - start < 2


async def test_a_refused_connection_is_a_transport_error():
    request = HttpRequest("GET", "http://127.0.0.1:9/", {}, None, 2)
    with pytest.raises(TransportError, match="could not reach http://127.0.0.1:9"):
        await StdlibTransport().request(request)


async def test_an_unsupported_scheme_is_refused():
    with pytest.raises(TransportError, match="unsupported URL scheme"):
        await StdlibTransport().request(HttpRequest("GET", "ftp://example.test/", {}, None, 2))


async def test_cancelling_a_waiting_request_returns_at_once(server):
    server.script({"delay": 3})
    task = asyncio.ensure_future(StdlibTransport().request(chat(server, timeout=10)))
    await asyncio.sleep(0.2)
    start = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - start < 0.5


async def test_closing_a_stream_mid_way_stops_reading(server):
    server.script({"text": " ".join(["word"] * 50), "stall": 3})
    response = await StdlibTransport().stream(chat(server, stream=True, timeout=10))
    await response.chunks().__anext__()
    start = time.monotonic()
    await response.aclose()
    assert [chunk async for chunk in response.chunks()] == []
    assert time.monotonic() - start < 0.5


async def test_http_proxy_from_the_environment_is_used_but_never_for_loopback(server, monkeypatch):
    monkeypatch.setenv("http_proxy", server.url)  # the mock routes by path, so it can play the proxy
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    server.reset()
    request = HttpRequest.post_json("http://api.provider.test/v1/chat/completions", {},
                                    {"model": "m", "messages": []}, 5)
    response = await StdlibTransport().request(request)
    assert response.status == 200
    assert server.requests[-1].path == "http://api.provider.test/v1/chat/completions"  # absolute form
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # a dead proxy: loopback must not use it
    assert (await StdlibTransport().request(chat(server))).status == 200
