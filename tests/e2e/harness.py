"""Loopback servers and the browser for the end-to-end tests (no pytest here).

- `StaticSite`: serves folders under URL prefixes on 127.0.0.1 (port 0), with
  or without the COOP/COEP headers that make a page cross-origin isolated.
- `Canary`: an HTTP server on 127.0.0.1 that records every request it gets;
  the sandbox's attack tests assert that it got none.
- `launch_chromium`: Debian's Chromium through Playwright (never `playwright install`).
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp",
                     "Cross-Origin-Resource-Policy": "same-origin"}
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html",
         ".json": "application/json", ".zip": "application/zip", ".whl": "application/zip", ".css": "text/css",
         ".bin": "application/octet-stream"}


class _QuietThreadingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a browser closing a connection is not news
        pass


def _serve(handler_class) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = _QuietThreadingServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class StaticSite:
    """Serves `mounts` ({"/prefix/": folder}, longest prefix wins) on a loopback port.

    Answers GET and HEAD; `requests` records "METHOD /path" lines. Paths under a prefix in
    `refused` get no answer at all: the connection closes, like a network that is gone.

    >>> site = StaticSite({"/": REPO / "web"}, isolated=True)   # doctest: +SKIP
    >>> site.url + "/sandbox/sandbox.html"                      # doctest: +SKIP
    """

    def __init__(self, mounts: dict[str, Path], *, isolated: bool, headers: dict[str, dict[str, str]] | None = None):
        self.mounts = sorted(((prefix, Path(folder)) for prefix, folder in mounts.items()),
                             key=lambda item: -len(item[0]))
        self.isolated = isolated
        self.headers = headers or {}  # URL path -> extra response headers
        self.refused: set[str] = set()
        self.requests: list[str] = []
        self.server, self.url = _serve(functools.partial(_SiteHandler, self))

    def resolve(self, url_path: str) -> Path | None:
        path = unquote(urlsplit(url_path).path)
        for prefix, folder in self.mounts:
            if path.startswith(prefix):
                target = (folder / path[len(prefix):]).resolve()
                if target.is_relative_to(folder.resolve()) and target.is_file():
                    return target
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _SiteHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, site: StaticSite, *args):
        self.site = site
        super().__init__(*args)

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        self._answer(body=True)

    def _answer(self, body: bool):
        self.site.requests.append(f"{self.command} {self.path}")
        path = urlsplit(self.path).path
        if any(path.startswith(prefix) for prefix in self.site.refused):
            self.close_connection = True
            self.connection.close()  # no status, no body
            return
        target = self.site.resolve(self.path)
        self.send_response(200 if target else 404)
        self.send_header("Content-Type", TYPES.get(target.suffix, "application/octet-stream") if target else "text/plain")
        self.send_header("Content-Length", str(target.stat().st_size if target else len(b"not found")))
        self.send_header("Cache-Control", "no-store")
        if self.site.isolated:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        for name, value in self.site.headers.get(path, {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not body:
            return
        if target is None:
            self.wfile.write(b"not found")
            return
        with open(target, "rb") as file:  # in blocks: model weights are hundreds of MB
            while block := file.read(1 << 20):
                self.wfile.write(block)


class Canary:
    """Records every request (any method, any path) and answers 200 with open CORS."""

    def __init__(self):
        self.requests: list[str] = []
        self.server, self.url = _serve(functools.partial(_CanaryHandler, self))
        self.host = self.url.removeprefix("http://")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _CanaryHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def __init__(self, canary: Canary, *args):
        self.canary = canary
        super().__init__(*args)

    def log_message(self, *args):
        pass

    def _record(self):
        self.canary.requests.append(f"{self.command} {self.path}")
        body = b"canary"
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cross-Origin-Resource-Policy", "cross-origin")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_OPTIONS = do_DELETE = _record


def build_wheel() -> Path:
    """The wasm_agent wheel of the working tree (built offline, cached by its sources: build/wheel.py)."""
    spec = importlib.util.spec_from_file_location("site_wheel", REPO / "build" / "wheel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_wheel(REPO / ".cache" / "site")


def make_snapshot() -> Path | None:
    """A Pyodide memory snapshot of a warm sandbox, made by Deno (the Deno sandbox's cache), or None.

    Chromium loads a snapshot that Deno made (ENVIRONMENT.md); the sandbox
    files in it are those of the working tree, the same as in the wheel.
    """
    import asyncio
    import concurrent.futures

    from wasm_agent.executor.sandbox import find_deno
    from wasm_agent.executor.sandbox_launch import SnapshotCache

    deno_bin = find_deno()
    if deno_bin is None:
        return None
    cache = SnapshotCache(deno_bin, REPO / "node_modules" / "pyodide")
    # On its own thread: Playwright's sync API keeps an event loop running on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, cache.get()).result()


def build_test_package_wheel() -> Path:
    """A tiny pure-Python wheel (`tinypkg`, VALUE = 42) for the sandbox's package installs."""
    import zipfile

    folder = REPO / ".cache" / "e2e-wheels"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tinypkg/__init__.py", "VALUE = 42\n\ndef double(x):\n    return 2 * x\n")
        archive.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
        archive.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("tinypkg-1.0.dist-info/RECORD", "")
    return wheel


def sandbox_site_mounts(wheel: Path, snapshot: Path | None = None) -> dict[str, Path]:
    """The test site: web/ at the root, Pyodide under /pyodide/, the wheel under /wheels/,
    test pages under /test/, a test package under /test-wheels/, the snapshot (if any) under /snapshot/."""
    mounts = {
        "/": REPO / "web",
        "/pyodide/": REPO / "node_modules" / "pyodide",
        "/wheels/": wheel.parent,
        "/test/": REPO / "tests" / "e2e" / "site",
        "/test-wheels/": build_test_package_wheel().parent,
    }
    if snapshot is not None:
        mounts["/snapshot/"] = snapshot.parent
    return mounts


def launch_chromium(playwright):
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("Debian's chromium is not installed: apt-get install -y chromium (never playwright install)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
