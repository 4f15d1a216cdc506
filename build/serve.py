"""`python -m wasm_agent serve`: dist/ on 127.0.0.1, cross-origin isolated unless told not to.

With COOP/COEP the page is cross-origin isolated: SharedArrayBuffer works, so
tool calls from the sandbox block on Atomics and an endless loop is stopped
by Pyodide's interrupt buffer. Without them (`--no-isolation`, or any plain
static host) the site takes its JSPI path.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import threading
from pathlib import Path

ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
# A page on another origin may embed the agent from this site (<script type=module src=…/wasm-agent.js>):
# module scripts, the worker's imports and every file it fetches are CORS requests. The files are public.
EMBEDDING_HEADERS = {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
         ".html": "text/html; charset=utf-8", ".css": "text/css", ".json": "application/json",
         ".zip": "application/zip", ".whl": "application/zip", ".svg": "image/svg+xml",
         ".png": "image/png", ".webmanifest": "application/manifest+json"}


# Sent gzipped to browsers that accept it, as most static hosts do (pyodide.asm.wasm: 9.6 -> 3.5 MB).
COMPRESSIBLE = {".js", ".mjs", ".wasm", ".html", ".css", ".json", ".svg", ".py", ".snapshot"}


@functools.lru_cache(maxsize=64)
def _gzipped(path: Path, mtime: float) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


class SiteServer:
    """Serves `root` on 127.0.0.1:`port` in a background thread (port 0: any free port).

    >>> server = SiteServer(Path("dist"), port=0)   # doctest: +SKIP
    >>> server.url, server.requests                 # doctest: +SKIP
    """

    def __init__(self, root: Path, *, port: int = 8000, isolated: bool = True, host: str = "127.0.0.1",
                 base_path: str = "/"):
        self.root = Path(root).resolve()
        self.isolated = isolated
        self.base_path = base_path  # the site's URL path, as on the host it is meant for ("/my-repo/")
        self.requests: list[str] = []  # paths served, for tests and the byte counts of docs/site.md
        self.bytes_sent = 0            # body bytes on the wire (after compression)
        handler = functools.partial(_Handler, self)
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> SiteServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="wasm-agent-site", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, site: SiteServer, *args):
        self.site = site
        super().__init__(*args)

    def log_message(self, *args) -> None:
        pass

    def handle_error(self, *args) -> None:  # a browser that closes a connection is not news
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        self.site.requests.append(path)
        target = self._resolve(path)
        encoding = None
        if target is None:
            data, status, kind = b"not found\n", 404, "text/plain"
        elif target.suffix in COMPRESSIBLE and "gzip" in self.headers.get("Accept-Encoding", ""):
            data, status, kind = _gzipped(target, target.stat().st_mtime), 200, TYPES.get(target.suffix, "application/octet-stream")
            encoding = "gzip"
        else:
            data, status, kind = target.read_bytes(), 200, TYPES.get(target.suffix, "application/octet-stream")
        self.site.bytes_sent += len(data) if body else 0
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if encoding:
            self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")  # the service worker does the caching
        headers = {**EMBEDDING_HEADERS, **(ISOLATION_HEADERS if self.site.isolated else {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _resolve(self, url_path: str) -> Path | None:
        from urllib.parse import unquote

        path = unquote(url_path)
        if not path.startswith(self.site.base_path):
            return None
        relative = path[len(self.site.base_path):]
        target = (self.site.root / relative).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.site.root) or not target.is_file():
            return None
        return target
