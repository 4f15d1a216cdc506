"""A loopback server that speaks OpenAI, Anthropic and Gemini, for tests. Never a real provider.

One threaded `http.server` on 127.0.0.1 answers all three wire formats:

    POST {url}/v1/chat/completions                        OpenAI-compatible (api_base = url + "/v1")
    POST {url}/v1/messages                                Anthropic          (api_base = url)
    POST {url}/v1beta/models/M:generateContent            Gemini             (api_base = url + "/v1beta")
    POST {url}/v1beta/models/M:streamGenerateContent?alt=sse

Answers are scripted (`server.script(...)`, or `POST /_mock/script` with a JSON
list of replies, see `wire.Reply`); unscripted requests get a greeting.
`GET /_mock/requests` lists what was received, `POST /_mock/reset` forgets.
Every answer carries CORS headers (unless `cors=False`, to act like a
provider that refuses browsers), so browser tests can use the same server:

    python -m tests.providers.mock --port 0        # prints {"url": "http://127.0.0.1:PORT"}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

try:
    from . import wire
except ImportError:  # run as a script
    import wire  # type: ignore[no-redef]

DEFAULT_TEXT = "Hello from the mock provider."
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, GET, OPTIONS",
    "access-control-allow-headers": "*",
    # Without this a page's fetch cannot read Retry-After (not a CORS-safelisted header).
    "access-control-expose-headers": "retry-after, retry-after-ms",
    "access-control-max-age": "600",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict
    json: object

    def to_dict(self) -> dict:
        return {"method": self.method, "path": self.path, "headers": self.headers, "json": self.json}


class MockProviderServer:
    """Start with `with MockProviderServer() as server:`; `server.url` is its origin.

    `api_key`: when set, requests without that key (in the provider's header) get a 401.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                 cors: bool = True):
        self.api_key = api_key
        self.cors = cors
        self.replies: deque[wire.Reply] = deque()
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.mock = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base(self) -> str:
        return self.url

    @property
    def gemini_base(self) -> str:
        return self.url + "/v1beta"

    def start(self) -> MockProviderServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="mock-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes handlers that are sleeping to simulate slowness
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> MockProviderServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def script(self, *replies: wire.Reply | dict | str) -> None:
        with self._lock:
            self.replies.extend(wire.Reply.coerce(reply) for reply in replies)

    def reset(self) -> None:
        with self._lock:
            self.replies.clear()
            self.requests.clear()

    def next_reply(self) -> wire.Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else wire.Reply(text=DEFAULT_TEXT)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockProvider/1"

    @property
    def mock(self) -> MockProviderServer:
        return self.server.mock  # type: ignore[attr-defined]

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def do_OPTIONS(self) -> None:  # CORS preflight
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.mock.record(RecordedRequest("OPTIONS", self.path, headers, None))
        # Echo the asked-for headers: a "*" would not cover Authorization.
        asked = {"access-control-allow-headers": headers.get("access-control-request-headers", "*")}
        self._send(204 if self.mock.cors else 405, b"", asked if self.mock.cors else {})

    def do_GET(self) -> None:
        if self.path.startswith("/_mock/requests"):
            body = json.dumps([r.to_dict() for r in self.mock.requests]).encode()
            return self._send(200, body, {"content-type": "application/json"})
        self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        path = urlsplit(self.path)
        if path.path == "/_mock/script":
            self.mock.script(*json.loads(raw or b"[]"))
            return self._send_json(200, {"scripted": len(self.mock.replies)})
        if path.path == "/_mock/reset":
            self.mock.reset()
            return self._send_json(200, {"reset": True})
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.mock.record(RecordedRequest("POST", self.path, headers, payload))
        route = _route(path.path)
        if route is None:
            return self._send_json(404, {"error": {"message": f"no route {path.path}"}})
        provider, model, stream = route
        body = payload if isinstance(payload, dict) else {}
        model = model or str(body.get("model", "mock"))
        stream = stream or bool(body.get("stream"))
        error_body = getattr(wire, f"{provider}_error")
        if self.mock.api_key is not None and _key(provider, headers, path.query) != self.mock.api_key:
            return self._send_json(401, error_body(401, "Invalid API key."))
        reply = self.mock.next_reply()
        if reply.delay and self.mock.stopping.wait(reply.delay):
            return
        if reply.status >= 400:
            extra = {"retry-after": reply.retry_after} if reply.retry_after is not None else {}
            return self._send_json(reply.status, error_body(reply.status, reply.error or "mock failure"), extra)
        if reply.garbage is not None:
            return self._send(200, reply.garbage.encode(), {"content-type": "text/html"})
        if stream:
            return self._stream(_events(provider, reply, model, body), reply, provider)
        body = json.dumps(getattr(wire, f"{provider}_json")(reply, model)).encode()
        self._send(200, body, {"content-type": "application/json"}, reply)

    # -- writing -----------------------------------------------------------------------------------
    def _send_json(self, status: int, data: object, extra: dict | None = None) -> None:
        self._send(status, json.dumps(data).encode(), {"content-type": "application/json", **(extra or {})})

    def _send(self, status: int, body: bytes, headers: dict, reply: wire.Reply | None = None) -> None:
        self.send_response(status)
        for name, value in {**(CORS_HEADERS if self.mock.cors else {}), **headers}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        half = len(body) // 2
        if reply is not None and (reply.truncate or reply.stall):
            self._write(body[:half])
            if reply.truncate or self.mock.stopping.wait(reply.stall):
                return self._hang_up()
            body = body[half:]
        self._write(body)

    def _stream(self, events: list[str], reply: wire.Reply, provider: str) -> None:
        self.send_response(200)
        headers = {**(CORS_HEADERS if self.mock.cors else {}), "content-type": "text/event-stream",
                   "cache-control": "no-cache", "connection": "close"}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()  # no length: the body ends when the connection closes
        half = len(events) // 2
        cut = half if reply.truncate_after is None else reply.truncate_after
        for index, event in enumerate(events):
            if index == cut and reply.truncate:
                self._write(event[: len(event) // 2].encode())
                return self._hang_up()
            if index == half:
                if reply.stream_error:
                    error = wire.anthropic_stream_error(reply.stream_error) if provider == "anthropic" \
                        else wire.sse({"error": {"message": reply.stream_error, "code": 503}})
                    self._write(error.encode())
                    return self._hang_up()
                if reply.stall and self.mock.stopping.wait(reply.stall):
                    return self._hang_up()
            self._write(event.encode())
        self._hang_up()

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            pass  # the client went away (it timed out or closed the stream)

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(2)
        except OSError:
            pass


_GEMINI = re.compile(r"/v1beta/models/([^/:]+):(generateContent|streamGenerateContent)")


def _route(path: str) -> tuple[str, str, bool] | None:
    """(provider, model, stream) of a request path; the model of OpenAI and Anthropic is in the body."""
    if path == "/v1/chat/completions":
        return "openai", "", False
    if path == "/v1/messages":
        return "anthropic", "", False
    match = _GEMINI.fullmatch(path)
    if match:
        return "gemini", match.group(1), match.group(2) == "streamGenerateContent"
    return None


def _key(provider: str, headers: dict, query: str) -> str | None:
    if provider == "openai":
        return headers.get("authorization", "").removeprefix("Bearer ") or None
    if provider == "anthropic":
        return headers.get("x-api-key")
    return headers.get("x-goog-api-key") or (parse_qs(query).get("key") or [None])[0]


def _events(provider: str, reply: wire.Reply, model: str, body: dict) -> list[str]:
    if provider == "openai":
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return wire.openai_events(reply, model, include_usage)
    return getattr(wire, f"{provider}_events")(reply, model)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--no-cors", action="store_true", help="act like a provider that refuses browsers")
    args = parser.parse_args(argv)
    server = MockProviderServer(args.host, args.port, api_key=args.api_key, cors=not args.no_cors)
    print(json.dumps({"url": server.url}), flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    sys.exit(main())
