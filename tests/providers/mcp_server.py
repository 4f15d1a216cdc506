"""An MCP server made with the official `mcp` SDK (Streamable HTTP), for the MCP client's tests.

    python tests/providers/mcp_server.py [--port 0] [--no-cors] [--token SECRET] [--json]

Prints `listening <url>` on stdout once it serves. Its tools cover what a client must handle:
structured results (`add`, `weather`), a name that is no Python identifier (`shout-text`), a tool
error (`divide` by zero), a slow tool (`wait`), a server that dies mid-call (`crash`) and a tool
list that changes (`unlock` adds `secret` and sends `notifications/tools/list_changed`). Tools
are listed two per page, so a client must follow `nextCursor`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from typing import TypedDict

import mcp_types as types
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse

PAGE_SIZE = 2


class PagedServer(MCPServer):
    """MCPServer lists every tool at once; this one pages them, as big servers do."""

    async def _handle_list_tools(self, ctx, params):  # noqa: ANN001 - the SDK's handler signature
        tools = await self.list_tools()
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + PAGE_SIZE
        return types.ListToolsResult(tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None)


class Weather(TypedDict):
    city: str
    temperature_c: float
    sky: str


def make_server() -> MCPServer:
    server = PagedServer("test-tools")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def weather(city: str) -> Weather:
        """The weather in a city."""
        return {"city": city, "temperature_c": 21.5, "sky": "clear"}

    @server.tool(name="shout-text")
    def shout(text: str, times: int = 1) -> str:
        """Upper-case a text, repeated."""
        return " ".join([text.upper()] * times)

    @server.tool()
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        if b == 0:
            raise ToolError("cannot divide by zero")
        return a / b

    @server.tool()
    async def wait(seconds: float) -> str:
        """Wait a while, then say so."""
        await asyncio.sleep(seconds)
        return f"waited {seconds} s"

    @server.tool()
    async def crash() -> str:
        """End the server's process in the middle of the call."""
        await asyncio.sleep(0.2)
        os._exit(3)

    @server.tool()
    async def unlock(ctx: Context) -> str:
        """Add the tool `secret`."""
        server.add_tool(lambda: "the secret is 42", name="secret", description="Tell the secret.")
        # on this call's own stream (related to its request), where a client that holds no GET stream sees it
        await ctx.request_context.session.send_notification(types.ToolListChangedNotification(),
                                                            related_request_id=ctx.request_id)
        return "unlocked"

    return server


class RequireToken:
    """401 for a request without `Authorization: Bearer <token>` (CORS preflights pass)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] != "OPTIONS":
            headers = dict(scope["headers"])
            if headers.get(b"authorization", b"").decode() != f"Bearer {self.token}":
                response = JSONResponse({"error": "invalid_token"}, status_code=401,
                                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def make_app(cors: bool, token: str | None, json_response: bool):
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)  # pages on other loopback origins
    app = make_server().streamable_http_app(json_response=json_response, transport_security=security)
    if token:
        app = RequireToken(app, token)
    if cors:
        app = CORSMiddleware(app, allow_origins=["*"], allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                             allow_headers=["*"], expose_headers=["Mcp-Session-Id"])
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-cors", action="store_true")
    parser.add_argument("--token")
    parser.add_argument("--json", action="store_true", help="answer with JSON bodies instead of SSE streams")
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", args.port))
    app = make_app(not args.no_cors, args.token, args.json)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.02)
        print(f"listening http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
        await task

    asyncio.run(serve())
    sys.exit(0)


if __name__ == "__main__":
    main()
