"""Tools from MCP servers, over the Streamable HTTP transport (the one a browser can use).

One client for every runtime: it sends its requests through the platform's transport
(`fetch` in Pyodide, in a browser or Deno; `http.client` on CPython). It speaks the handshake
revisions of the protocol: `initialize`, the `Mcp-Session-Id` header, `tools/list` page by page,
`tools/call` answered with JSON or with a stream of server-sent events, and
`notifications/tools/list_changed` when it arrives on a response's stream. MCP tools run here,
on the agent's side; the model's code calls them like any other tool.

>>> from wasm_agent import CodeAgent, MCPClient
>>> # with MCPClient({"url": "http://127.0.0.1:8000/mcp", "transport": "streamable-http",
>>> #                 "headers": {"Authorization": "Bearer …"}}) as tools:
>>> #     agent = CodeAgent(tools=tools, model=model)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from contextlib import contextmanager
from typing import Any, Iterator

from ..errors import AgentToolExecutionError
from ..models.sse import iter_events
from ..models.transport import HttpRequest, Transport, TransportError, TransportTimeout, default_transport
from ..platform import IN_PYODIDE, block_on, can_block
from .base import AUTHORIZED_TYPES, Tool

PROTOCOL_VERSION = "2025-11-25"  # the newest revision with the initialize handshake
CLIENT_INFO = {"name": "wasm-agent", "version": "0.1.0"}

# What a browser needs from a server on another origin before it lets a page talk to it.
CORS_HINT = ("Called from a browser page, the server must allow the page's origin (CORS): answer with "
             "`Access-Control-Allow-Origin` (the page's origin, or *), allow the request headers "
             "(`Access-Control-Allow-Headers`: Content-Type, Accept, Authorization, Mcp-Session-Id, "
             "Mcp-Protocol-Version) and expose the session header (`Access-Control-Expose-Headers: Mcp-Session-Id`).")


class MCPError(AgentToolExecutionError):
    """An MCP server could not be reached, refused a request, or answered with an error."""


class MCPAuthError(MCPError):
    """The server answered 401/403: the credentials in `headers` are missing or wrong."""


class _SessionExpired(Exception):
    """The server no longer knows our session (404): initialize again."""


class MCPSession:
    """One connection to one MCP server. Async; `MCPClient` is the smolagents-style front.

    `timeout` bounds each request (seconds); `headers` go with every request (e.g. Authorization).
    """

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0,
                 transport: Transport | None = None):
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.transport = transport or default_transport()
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.server_info: dict = {}
        self.capabilities: dict = {}
        self.tools_changed = False  # set by notifications/tools/list_changed; list_tools() clears it
        self._ids = itertools.count(1)

    async def open(self) -> None:
        """The initialize handshake: learn the server's session id, revision and capabilities."""
        self.session_id = self.protocol_version = None
        result = await self._exchange("initialize", {
            "protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}, self.timeout)
        self.protocol_version = str(result.get("protocolVersion") or PROTOCOL_VERSION)
        self.server_info = result.get("serverInfo") or {}
        self.capabilities = result.get("capabilities") or {}
        await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"}, self.timeout)

    async def request(self, method: str, params: dict | None = None, *, timeout: float | None = None) -> dict:
        """Send one request; its result. A session the server forgot is opened again, once."""
        try:
            return await self._exchange(method, params, timeout or self.timeout)
        except _SessionExpired:
            await self.open()
            return await self._exchange(method, params, timeout or self.timeout)

    async def list_tools(self) -> list[dict]:
        """Every tool of the server (following `nextCursor` page by page)."""
        self.tools_changed = False
        tools: list[dict] = []
        cursor = None
        for _ in range(1000):  # a server that repeats its cursor forever must not hang us
            result = await self.request("tools/list", {"cursor": cursor} if cursor else {})
            tools.extend(result.get("tools") or [])
            cursor = result.get("nextCursor")
            if not cursor:
                return tools
        raise MCPError(f"the MCP server at {self.url} sent more than 1000 pages of tools")

    async def call_tool(self, name: str, arguments: dict, *, timeout: float | None = None) -> dict:
        """The raw `tools/call` result: `content`, maybe `structuredContent`, `isError`."""
        return await self.request("tools/call", {"name": name, "arguments": arguments}, timeout=timeout)

    async def close(self) -> None:
        """End the session on the server (servers may refuse: nothing to do then)."""
        if self.session_id is None:
            return
        request = HttpRequest("DELETE", self.url, self._headers(), timeout=min(self.timeout, 5.0))
        try:
            await self.transport.request(request)
        except TransportError:
            pass
        self.session_id = None

    # -- the wire ----------------------------------------------------------------------------------
    async def _exchange(self, method: str, params: dict | None, timeout: float) -> dict:
        message = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            message["params"] = params
        try:
            answer = await asyncio.wait_for(self._send(message, timeout), timeout)
        except asyncio.TimeoutError:
            raise MCPError(f"the MCP server at {self.url} did not answer {method} within {timeout:g} s") from None
        if "error" in answer:
            error = answer["error"] or {}
            raise MCPError(f"the MCP server at {self.url} refused {method}: {error.get('message')} "
                           f"(code {error.get('code')})")
        return answer.get("result") or {}

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
                   **self.headers}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
        if self.protocol_version:
            headers["mcp-protocol-version"] = self.protocol_version
        return headers

    async def _send(self, message: dict, timeout: float) -> dict | None:
        """POST one message; for a request, the JSON-RPC response that answers it."""
        method = message["method"]
        request = HttpRequest("POST", self.url, self._headers(), json.dumps(message).encode(), timeout)
        try:
            response = await self.transport.stream(request)
        except TransportTimeout:
            raise MCPError(f"the MCP server at {self.url} did not answer {method} within {timeout:g} s") from None
        except TransportError as error:
            raise MCPError(f"could not reach the MCP server at {self.url}: {error}"
                           + (f". {CORS_HINT}" if IN_PYODIDE else "")) from None
        try:
            if response.headers.get("mcp-session-id"):
                self.session_id = response.headers["mcp-session-id"]
            if response.status >= 400:
                await self._refuse(response, method)
            if "id" not in message:
                return None  # a notification: 202, nothing to read
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind == "text/event-stream":
                async for event in iter_events(response.chunks()):
                    answer = self._take(event.data, message["id"])
                    if answer is not None:
                        return answer
                raise MCPError(f"the MCP server at {self.url} closed its stream before answering {method}")
            answer = self._take((await response.read()).decode("utf-8", "replace"), message["id"])
            if answer is None:
                raise MCPError(f"the MCP server at {self.url} sent no answer to {method}")
            return answer
        except TransportError as error:
            raise MCPError(f"the connection to the MCP server at {self.url} broke during {method} "
                           f"(did the server stop?): {error}") from None
        finally:
            await response.aclose()

    async def _refuse(self, response: Any, method: str) -> None:
        body = (await response.read()).decode("utf-8", "replace")[:300]
        where = f"the MCP server at {self.url}"
        if response.status in (401, 403):
            challenge = response.headers.get("www-authenticate")
            raise MCPAuthError(f"{where} refused {method} (HTTP {response.status}"
                               + (f", WWW-Authenticate: {challenge}" if challenge else "")
                               + "): give the credentials it expects in the server's headers, "
                               "e.g. {'Authorization': 'Bearer <token>'}")
        if response.status == 404 and self.session_id and method != "initialize":
            raise _SessionExpired()
        hint = ""
        if response.status == 400 and self.session_id is None and method != "initialize" and IN_PYODIDE:
            hint = (" The session id may have been hidden from this page: the server must send "
                    "`Access-Control-Expose-Headers: Mcp-Session-Id`.")
        raise MCPError(f"{where} refused {method} (HTTP {response.status}): {body}{hint}")

    def _take(self, data: str, request_id: int) -> dict | None:
        """Read one JSON-RPC message (or a batch); the response to `request_id`, else None."""
        try:
            parsed = json.loads(data) if data.strip() else []
        except json.JSONDecodeError:
            raise MCPError(f"the MCP server at {self.url} sent something that is not JSON: {data[:200]!r}") from None
        answer = None
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(item, dict):
                continue
            if item.get("method") == "notifications/tools/list_changed":
                self.tools_changed = True
            elif item.get("id") == request_id and ("result" in item or "error" in item):
                answer = item
        return answer


# -- tools ------------------------------------------------------------------------------------------

class MCPTool(Tool):
    """A tool of an MCP server; calling it sends `tools/call` (from the agent's side, never the sandbox)."""

    skip_forward_signature_validation = True

    def __init__(self, session: MCPSession, spec: dict, *, structured_output: bool = True):
        self.session = session
        self.remote_name = spec["name"]
        self.name = _identifier(spec["name"])
        schema = spec.get("outputSchema") if structured_output else None
        self._unwrap = _wraps_result(schema)
        self.output_type = _output_type(schema, self._unwrap)
        self.description = (spec.get("description") or spec.get("title") or f"The MCP tool {spec['name']}.").strip()
        if schema and not self._unwrap:
            self.description += f"\nReturns a dict with this JSON schema: {json.dumps(_compact(schema))}"
        self._structured = structured_output
        self.inputs = _inputs(spec.get("inputSchema") or {})
        super().__init__()

    async def forward(self, **kwargs: Any) -> Any:
        result = await self.session.call_tool(self.remote_name, kwargs)
        if result.get("isError"):
            raise AgentToolExecutionError(f"the MCP tool {self.remote_name!r} failed: {_content_text(result)}")
        structured = result.get("structuredContent")
        if self._structured and isinstance(structured, dict):
            return structured.get("result") if self._unwrap else structured
        return _content_text(result)


def _identifier(name: str) -> str:
    """A Python name for a tool name (MCP allows `-`, `.` and `/`)."""
    cleaned = re.sub(r"\W", "_", name)
    return cleaned if cleaned.isidentifier() and not cleaned[0].isdigit() else f"tool_{cleaned}"


def _schema_types(schema: dict) -> list[str]:
    kinds = schema.get("type")
    if kinds is None:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        kinds = [kind for option in options for kind in _schema_types(option)]
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return [kind for kind in dict.fromkeys(kinds) if kind in AUTHORIZED_TYPES] or ["any"]


def _inputs(schema: dict) -> dict[str, dict]:
    required = set(schema.get("required") or [])
    inputs = {}
    for name, prop in (schema.get("properties") or {}).items():
        kinds = _schema_types(prop)
        nullable = name not in required or "null" in kinds
        kinds = [kind for kind in kinds if kind != "null"] or ["any"]
        spec: dict[str, Any] = {"type": kinds[0] if len(kinds) == 1 else kinds,
                                "description": prop.get("description") or prop.get("title") or name}
        if "enum" in prop:
            spec["enum"] = prop["enum"]
        if nullable:
            spec["nullable"] = True
        inputs[name] = spec
    return inputs


def _wraps_result(schema: dict | None) -> bool:
    """An output schema `{result: …}` only: how servers return a plain value (a number, a text…)."""
    return bool(schema) and set((schema.get("properties") or {})) == {"result"}


def _output_type(schema: dict | None, unwrap: bool) -> Any:
    if not schema:
        return "string"
    if unwrap:
        kinds = _schema_types(schema["properties"]["result"])
        return kinds[0] if len(kinds) == 1 else kinds
    return "object"


def _compact(schema: dict) -> dict:
    """The parts of a JSON schema a model reads (no titles)."""
    return {key: (_compact(value) if isinstance(value, dict) else value)
            for key, value in schema.items() if key != "title"}


def _content_text(result: dict) -> str:
    """A call result's content blocks as text (non-text blocks named, not inlined)."""
    parts = []
    for block in result.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(block.get("text", ""))
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {block.get('mimeType', '?')}, {len(block.get('data', '')) * 3 // 4} bytes]")
        elif kind == "resource":
            resource = block.get("resource") or {}
            parts.append(resource.get("text") or f"[resource: {resource.get('uri')}]")
        elif kind == "resource_link":
            parts.append(f"[link: {block.get('uri')} {block.get('name', '')}]".rstrip())
    return "\n".join(parts)


# -- smolagents' front -----------------------------------------------------------------------------

def server_sessions(server_parameters: Any, *, timeout: float, transport: Transport | None = None) -> list[MCPSession]:
    """Sessions (not yet open) for smolagents-style server parameters: a dict or a list of dicts."""
    items = server_parameters if isinstance(server_parameters, list) else [server_parameters]
    sessions = []
    for item in items:
        if not isinstance(item, dict) or not item.get("url"):
            raise ValueError(f"MCP server parameters must be dicts with a 'url', got {item!r}: wasm-agent speaks "
                             "Streamable HTTP (stdio servers need a subprocess, which a browser cannot start)")
        kind = item.get("transport", "streamable-http")
        if kind != "streamable-http":
            raise ValueError(f"MCP transport {kind!r} is not supported: use 'streamable-http' (the legacy 'sse' "
                             "transport is deprecated by the protocol)")
        sessions.append(MCPSession(item["url"], headers=item.get("headers"),
                                   timeout=float(item.get("timeout", timeout)), transport=transport))
    return sessions


class MCPClient:
    """The tools of one or more MCP servers (smolagents' `MCPClient`).

    On CPython it connects when made; where the runtime cannot block (an event loop is running,
    or Pyodide without JSPI) use `async with MCPClient(...) as tools` or `await client.aconnect()`.

    >>> # with MCPClient({"url": "http://127.0.0.1:8000/mcp", "transport": "streamable-http"}) as tools:
    >>> #     print([tool.name for tool in tools])
    """

    def __init__(self, server_parameters: Any, connect_timeout: float = 30,
                 client_session_timeout_seconds: float | None = None, structured_output: bool = True, *,
                 transport: Transport | None = None):
        timeout = client_session_timeout_seconds or 60  # seconds, or a timedelta as smolagents takes
        if hasattr(timeout, "total_seconds"):
            timeout = timeout.total_seconds()
        self.sessions = server_sessions(server_parameters, timeout=float(timeout), transport=transport)
        self.connect_timeout = float(connect_timeout)
        self.structured_output = structured_output
        self._tools: list[Tool] | None = None
        if can_block():
            self.connect()

    def connect(self) -> None:
        block_on(self.aconnect())

    async def aconnect(self) -> None:
        """Open every session and list its tools (nothing to do when connected)."""
        if self._tools is not None:
            return
        opened = []
        try:
            for session in self.sessions:
                await asyncio.wait_for(session.open(), self.connect_timeout)
                opened.append(session)
            self._tools = [tool for session in self.sessions for tool in await self._list(session)]
        except asyncio.TimeoutError:
            raise MCPError(f"the MCP server at {session.url} did not answer within {self.connect_timeout:g} s") from None
        except BaseException:
            for session in opened:
                await session.close()
            raise

    async def _list(self, session: MCPSession) -> list[Tool]:
        return [MCPTool(session, spec, structured_output=self.structured_output) for spec in await session.list_tools()]

    def get_tools(self) -> list[Tool]:
        """The servers' tools (listed again when a server said its list changed, where we can block)."""
        if self._tools is None:
            raise ValueError("the MCP client is not connected: call connect() (or `await aconnect()`) first")
        if any(session.tools_changed for session in self.sessions) and can_block():
            block_on(self.arefresh())
        return self._tools

    async def arefresh(self) -> list[Tool]:
        """List the tools of every server again."""
        self._tools = [tool for session in self.sessions for tool in await self._list(session)]
        return self._tools

    def disconnect(self, *exc_info: Any) -> None:
        block_on(self.adisconnect())

    async def adisconnect(self) -> None:
        for session in self.sessions:
            await session.close()
        self._tools = None

    def __enter__(self) -> list[Tool]:
        return self.get_tools()

    def __exit__(self, *exc_info: Any) -> None:
        self.disconnect()

    async def __aenter__(self) -> list[Tool]:
        await self.aconnect()
        return self._tools or []

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.adisconnect()


class ToolCollection:
    """A set of tools, here from MCP servers (smolagents' `ToolCollection.from_mcp`).

    >>> # with ToolCollection.from_mcp({"url": url, "transport": "streamable-http"},
    >>> #                              trust_remote_code=True) as collection:
    >>> #     agent = CodeAgent(tools=collection.tools, model=model)
    """

    def __init__(self, tools: list[Tool]):
        self.tools = list(tools)

    @classmethod
    @contextmanager
    def from_mcp(cls, server_parameters: Any, trust_remote_code: bool = False,
                 structured_output: bool = True) -> Iterator["ToolCollection"]:
        if not trust_remote_code:
            raise ValueError("loading tools from an MCP server runs that server's tools for the agent: pass "
                             "trust_remote_code=True if you trust it")
        with MCPClient(server_parameters, structured_output=structured_output) as tools:
            yield cls(tools)


__all__ = ["CORS_HINT", "MCPAuthError", "MCPClient", "MCPError", "MCPSession", "MCPTool", "ToolCollection"]
