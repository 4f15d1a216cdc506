"""HTTP transports: how a model's request reaches a provider.

A transport only connects: it sends an `HttpRequest` and hands back the
status, the headers and the body, either whole (`request`) or as chunks
(`stream`, for server-sent events). Model classes take a transport and never
know which one they use: `default_transport()` picks JS `fetch` in Pyodide
(`wasm_agent.platform.fetch`) and the standard library's `http.client` on
CPython, so the core keeps zero runtime dependencies.

>>> transport = default_transport()
>>> # response = await transport.request(HttpRequest("POST", url, headers, body, timeout=30))
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import ssl
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import AsyncIterator, Protocol
from urllib.parse import unquote, urlsplit

from ..platform import IN_PYODIDE


class TransportError(Exception):
    """The request could not be sent or its answer could not be read (network, DNS, CORS)."""


class TransportTimeout(TransportError):
    """No answer (or no next chunk of a stream) within the request's timeout."""


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: float = 60.0  # seconds to wait for the headers, and then for each chunk

    @classmethod
    def post_json(cls, url: str, headers: dict[str, str], payload: dict, timeout: float) -> HttpRequest:
        headers = {"content-type": "application/json", **headers}
        return cls("POST", url, headers, json.dumps(payload).encode(), timeout)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class StreamingResponse(Protocol):
    """An answer whose body is still arriving. Close it when done (also on error)."""

    status: int
    headers: dict[str, str]

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes: ...

    async def aclose(self) -> None: ...


class Transport:
    """Connects to a server; a platform implements `stream`, and `request` reads it whole."""

    async def stream(self, request: HttpRequest) -> StreamingResponse:
        raise NotImplementedError

    async def request(self, request: HttpRequest) -> HttpResponse:
        response = await self.stream(request)
        try:
            body = await response.read()
        finally:
            await response.aclose()
        return HttpResponse(response.status, response.headers, body)


async def read_whole(response: StreamingResponse) -> bytes:
    """The rest of a streaming response's body, joined."""
    parts = [chunk async for chunk in response.chunks()]
    return b"".join(parts)


def default_transport() -> Transport:
    """The transport of this platform: fetch in Pyodide, http.client on CPython."""
    if IN_PYODIDE:
        from ..platform.fetch import FetchTransport

        return FetchTransport()
    return StdlibTransport()


# -- CPython ------------------------------------------------------------------------------------
_HEAD, _CHUNK, _END, _ERROR = "head", "chunk", "end", "error"


class StdlibTransport(Transport):
    """`http.client` on a thread per request; chunks reach the event loop through a queue.

    The socket timeout bounds every wait (connect, headers, each chunk), and
    closing the response shuts the socket down, which unblocks the thread.
    """

    chunk_size = 16384

    async def stream(self, request: HttpRequest) -> _ThreadedResponse:
        response = _ThreadedResponse(request, self.chunk_size)
        await response.start()
        return response


class _ThreadedResponse:
    def __init__(self, request: HttpRequest, chunk_size: int):
        self.request = request
        self.chunk_size = chunk_size
        self.status = 0
        self.headers: dict[str, str] = {}
        self._queue: asyncio.Queue = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._connection: http.client.HTTPConnection | None = None
        self._closed = threading.Event()
        self._finished = False

    async def start(self) -> None:
        threading.Thread(target=self._run, name="wasm-agent-http", daemon=True).start()
        try:
            kind, value = await self._next()
        except BaseException:
            await self.aclose()  # cancelled or timed out while waiting for the headers
            raise
        self.status, self.headers = value

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self._finished:
            kind, value = await self._next()
            if kind == _END:
                self._finished = True
                return
            yield value

    async def read(self) -> bytes:
        return await read_whole(self)

    async def aclose(self) -> None:
        self._finished = True
        if not self._closed.is_set():
            self._closed.set()
            _shutdown(self._connection)

    async def _next(self) -> tuple[str, object]:
        try:
            kind, value = await asyncio.wait_for(self._queue.get(), self.request.timeout + 1.0)
        except asyncio.TimeoutError:  # the socket timeout should have fired first; be sure anyway
            await self.aclose()
            raise TransportTimeout(f"no answer from {_origin(self.request.url)} within "
                                   f"{self.request.timeout:g} s") from None
        if kind == _ERROR:
            self._finished = True
            raise value  # type: ignore[misc]
        return kind, value

    def _put(self, kind: str, value: object = None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone: nobody is listening any more
            self._closed.set()

    def _run(self) -> None:
        request = self.request
        try:
            connection, target, headers = _connect(request)
            self._connection = connection
            connection.request(request.method, target, body=request.body, headers=headers)
            response = connection.getresponse()
            self._put(_HEAD, (response.status, {k.lower(): v for k, v in response.getheaders()}))
            while not self._closed.is_set():
                chunk = response.read1(self.chunk_size)
                if not chunk:
                    if response.length:  # read1 ends quietly when the server closes early
                        raise http.client.IncompleteRead(b"", response.length)
                    break
                self._put(_CHUNK, chunk)
            self._put(_END)
        except BaseException as exc:
            if not self._closed.is_set():
                self._put(_ERROR, _as_transport_error(exc, request))
        finally:
            _shutdown(self._connection)


def _connect(request: HttpRequest) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """A connection for the request's URL (through HTTP(S)_PROXY unless NO_PROXY or loopback),
    the request target and the headers to send."""
    parts = urlsplit(request.url)
    if parts.scheme not in ("http", "https"):
        raise TransportError(f"unsupported URL scheme in {request.url!r} (use http:// or https://)")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and (host in _LOOPBACK or urllib.request.proxy_bypass(host)):
        proxy = None
    proxy_parts = urlsplit(proxy if proxy and "://" in proxy else f"http://{proxy}") if proxy else None
    connect_host, connect_port = (proxy_parts.hostname, proxy_parts.port or 80) if proxy_parts else (host, port)
    headers = dict(request.headers)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            connect_host, connect_port, timeout=request.timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(connect_host, connect_port, timeout=request.timeout)
    if proxy_parts is not None:
        auth = {}
        if proxy_parts.username:
            credentials = f"{unquote(proxy_parts.username)}:{unquote(proxy_parts.password or '')}"
            auth["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        if parts.scheme == "https":
            connection.set_tunnel(host, port, headers=auth)  # CONNECT, then TLS to the provider itself
        else:
            headers.update(auth)
            target = request.url  # a plain-HTTP proxy takes the absolute URL
    return connection, target, headers


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _as_transport_error(exc: BaseException, request: HttpRequest) -> TransportError:
    if isinstance(exc, TransportError):
        return exc
    where = _origin(request.url)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return TransportTimeout(f"no answer from {where} within {request.timeout:g} s")
    if isinstance(exc, http.client.IncompleteRead):
        return TransportError(f"the connection to {where} closed before the whole answer arrived")
    return TransportError(f"could not reach {where}: {type(exc).__name__}: {exc}")


def _shutdown(connection: http.client.HTTPConnection | None) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    if connection is not None:
        connection.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url
