"""A loopback server that answers like the web APIs the web tools use. Never the real sites.

    GET /w/api.php?action=query&generator=search&gsrsearch=Q…   MediaWiki (CORS only with origin=*)
    GET /article.html, /large.html, /logo.png                    pages with no CORS headers, like most sites
    GET /proxy?url=URL                                           a CORS proxy (fetches URL, adds CORS)
    GET /search/searxng?q=Q&format=json, /search/brave?q=Q, /search/google?q=Q   search APIs' JSON shapes

`server.requests` records (path with query, headers) of each request.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ARTICLE = """<!doctype html><html><head><title>Lighthouses</title><script>track()</script></head><body>
<nav><a href="/">Home</a></nav>
<h1>Lighthouses of Brittany</h1>
<p>The <b>Phare du Créac'h</b> guards <a href="/ushant.html">Ushant</a>.</p>
<ul><li>Créac'h: 1863</li><li>Jument: 1911</li></ul>
</body></html>"""

WIKI_EXTRACT = ("Ada Lovelace (1815–1852) was an English mathematician, chiefly known for her work on "
                "Charles Babbage's Analytical Engine.")


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_OPTIONS(self) -> None:  # noqa: N802 - preflights, as MediaWiki answers them
        self.server.owner.requests.append((self.path, dict(self.headers)))
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Api-User-Agent, Authorization, X-Subscription-Token")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        self.server.owner.requests.append((self.path, dict(self.headers)))
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        route = {"/w/api.php": self._mediawiki, "/article.html": lambda q: self._send(ARTICLE, "text/html"),
                 "/large.html": lambda q: self._send("<p>" + "word " * 20_000 + "</p><p>THE END</p>", "text/html"),
                 "/logo.png": lambda q: self._send(b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png"),
                 "/proxy": self._proxy, "/search/searxng": self._searxng, "/search/brave": self._brave,
                 "/search/google": self._google}.get(parts.path)
        if route is None:
            self._send("not found", "text/plain", status=404)
        else:
            route(query)

    def _send(self, body: str | bytes, kind: str, status: int = 200, cors: bool = False) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(data)

    def _json(self, data: object, cors: bool = True) -> None:
        self._send(json.dumps(data), "application/json; charset=utf-8", cors=cors)

    def _mediawiki(self, query: dict) -> None:
        found = "lovelace" in query.get("gsrsearch", "").lower()
        extract = WIKI_EXTRACT if query.get("exintro") else WIKI_EXTRACT + "\n\n== Life ==\nShe was born in London."
        pages = [{"pageid": 974, "ns": 0, "title": "Ada Lovelace", "index": 1, "extract": extract,
                  "fullurl": "https://en.wikipedia.org/wiki/Ada_Lovelace"}] if found else []
        body = {"batchcomplete": True, **({"query": {"pages": pages}} if pages else {})}
        self._json(body, cors=query.get("origin") == "*")  # MediaWiki's anonymous CORS

    def _proxy(self, query: dict) -> None:
        with urllib.request.urlopen(query["url"], timeout=10) as response:  # the test's own loopback pages
            self._send(response.read(), response.headers.get("Content-Type", "text/plain"), cors=True)

    def _searxng(self, query: dict) -> None:
        self._json({"query": query.get("q"), "number_of_results": 2, "results": [
            {"url": "https://example.org/a", "title": "First result", "content": f"About {query.get('q')}",
             "engine": "duckduckgo", "score": 1.0},
            {"url": "https://example.org/b", "title": "Second result", "content": "More", "engine": "bing"}]})

    def _brave(self, query: dict) -> None:
        if self.headers.get("X-Subscription-Token") != "brave-key":
            return self._send(json.dumps({"type": "ErrorResponse"}), "application/json", status=401, cors=True)
        self._json({"type": "search", "web": {"type": "search", "results": [
            {"title": "Brave hit", "url": "https://example.org/brave", "description": "From Brave"}]}})

    def _google(self, query: dict) -> None:
        self._json({"kind": "customsearch#search", "items": [
            {"kind": "customsearch#result", "title": "Google hit", "link": "https://example.org/g",
             "snippet": "From Google"}]})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "WebApiServer"


class WebApiServer:
    """`with WebApiServer() as server:`; `server.url` is its origin."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> WebApiServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
