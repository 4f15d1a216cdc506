"""The Pyodide transport: JS `fetch` with AbortController timeouts and ReadableStream reading.

Works wherever Pyodide has `fetch`: a browser window or worker, Deno, Node ≥ 18.
The timeout is an idle timeout, as on CPython: it bounds the wait for the
headers and then the wait for each chunk, so a long stream that keeps
talking is never cut. Closing the response (or cancelling the awaiting
task) aborts the request.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from js import AbortController, Object, clearTimeout, fetch, setTimeout  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_proxy, to_js  # type: ignore[import-not-found]

from ..models.transport import HttpRequest, Transport, TransportError, TransportTimeout, read_whole

# fetch rejects with a bare "TypeError: Failed to fetch" for DNS failures, refused
# connections and CORS refusals alike; the browser tells the page nothing more.
NETWORK_OR_CORS = ("fetch could not send the request: the server is unreachable, or (in a browser) it "
                   "refused the cross-origin request (CORS); the browser console shows which")


class FetchTransport(Transport):
    async def stream(self, request: HttpRequest) -> _FetchResponse:
        response = _FetchResponse(request)
        try:
            await response.start()
        except BaseException:
            await response.aclose()
            raise
        return response


class _FetchResponse:
    def __init__(self, request: HttpRequest):
        self.request = request
        self.status = 0
        self.headers: dict[str, str] = {}
        self._controller = AbortController.new()
        self._timer = None
        self._timed_out = False
        self._reader = None
        self._on_timeout = create_proxy(self._abort_for_timeout)

    async def start(self) -> None:
        request = self.request
        init = {"method": request.method, "headers": request.headers, "signal": self._controller.signal}
        if request.body is not None:
            init["body"] = to_js(request.body)  # a Uint8Array
        self._arm_timer()
        try:
            response = await self._wait(fetch(request.url, to_js(init, dict_converter=Object.fromEntries)),
                                        NETWORK_OR_CORS)
        finally:
            self._disarm_timer()
        self.status = int(response.status)
        self.headers = {str(name).lower(): str(value) for name, value in response.headers.entries()}
        self._reader = response.body.getReader() if response.body is not None else None

    async def chunks(self) -> AsyncIterator[bytes]:
        while self._reader is not None:
            self._arm_timer()
            try:
                result = await self._wait(self._reader.read(), "the connection broke while the answer was arriving")
            finally:
                self._disarm_timer()
            if result.done:
                self._reader = None
                return
            yield result.value.to_bytes()

    async def read(self) -> bytes:
        return await read_whole(self)

    async def aclose(self) -> None:
        self._disarm_timer()
        if self._reader is not None:
            self._reader = None
            self._controller.abort()
        if self._on_timeout is not None:
            self._on_timeout.destroy()
            self._on_timeout = None

    async def _wait(self, promise, failure: str):
        """Await a JS promise; turn JS failures into TransportError, and abort if we are cancelled."""
        try:
            return await promise
        except asyncio.CancelledError:
            self._controller.abort()
            raise
        except JsException as exc:
            if self._timed_out:
                raise TransportTimeout(f"no answer from {self.request.url} within "
                                       f"{self.request.timeout:g} s") from None
            raise TransportError(f"{failure} ({self.request.url}: {exc})") from None

    def _abort_for_timeout(self) -> None:
        self._timed_out = True
        self._controller.abort()

    def _arm_timer(self) -> None:
        self._timer = setTimeout(self._on_timeout, int(self.request.timeout * 1000))

    def _disarm_timer(self) -> None:
        if self._timer is not None:
            clearTimeout(self._timer)
            self._timer = None
