"""The test site of the in-browser model (no pytest here; used by test_browser_model.py and the bench).

Layout, as in dist/: web/ at the root (browser-model.js), wllama/ and models/
from build/browser_model.py, Pyodide under /pyodide/, the wasm_agent wheel
under /wheels/, test pages under /test/. Unlike harness.StaticSite it answers
HEAD (wllama asks for a model's size that way) and can refuse the model files,
to play a visitor who is offline.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SITE_CACHE = REPO / ".cache" / "browser-model" / "site"

sys.path.insert(0, str(HERE))
from harness import (  # noqa: F401
    CHROMIUM_ARGS,
    ISOLATION_HEADERS,
    TYPES,
    build_wheel,
    launch_chromium,
)


def build_model_files(out: Path = SITE_CACHE) -> Path:
    """wllama and the default GGUF under `out` (hard links into the cache; the download happens once)."""
    spec = importlib.util.spec_from_file_location("browser_model_build", REPO / "build" / "browser_model.py")
    module = sys.modules.setdefault("browser_model_build", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    module.build_browser_model(out)
    return out


def site_mounts(model_files: Path, wheel: Path | None = None) -> dict[str, Path]:
    mounts = {"/": REPO / "web", "/wllama/": model_files / "wllama", "/models/": model_files / "models",
              "/pyodide/": REPO / "node_modules" / "pyodide", "/test/": HERE / "site"}
    if wheel is not None:
        mounts["/wheels/"] = wheel.parent
    return mounts


class ModelSite:
    """Serves `mounts` on 127.0.0.1; `offline_models = True` makes /models/ fail like a dead network."""

    def __init__(self, mounts: dict[str, Path], *, isolated: bool):
        self.mounts = sorted(((p, Path(f)) for p, f in mounts.items()), key=lambda item: -len(item[0]))
        self.isolated = isolated
        self.offline_models = False
        self.requests: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, self))
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # a browser closing a connection is not news
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def resolve(self, url_path: str) -> Path | None:
        path = unquote(urlsplit(url_path).path)
        for prefix, folder in self.mounts:
            if path.startswith(prefix):
                target = (folder / path[len(prefix):]).resolve()
                if target.is_relative_to(folder.resolve()) and target.is_file():
                    return target
        return None

    def model_requests(self) -> list[str]:
        return [r for r in self.requests if "/models/" in r]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, site: ModelSite, *args):
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
        if self.site.offline_models and urlsplit(self.path).path.startswith("/models/"):
            self.close_connection = True
            self.connection.close()  # like a network that is gone: no status, no body
            return
        target = self.site.resolve(self.path)
        size = target.stat().st_size if target else len(b"not found")
        self.send_response(200 if target else 404)
        self.send_header("Content-Type", TYPES.get(target.suffix, "application/octet-stream") if target else "text/plain")
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")
        if self.site.isolated:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        self.end_headers()
        if not body:
            return
        if target is None:
            self.wfile.write(b"not found")
            return
        with open(target, "rb") as file:
            while block := file.read(1 << 20):
                self.wfile.write(block)
