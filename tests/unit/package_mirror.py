"""A Pyodide package distribution for tests: a folder laid out like Pyodide's CDN folder (`<url>/<file_name>`)
served on loopback, and a lock for it made from the pinned Pyodide's lock plus two packages built here:
`wa-fast`, tagged like Pyodide's WebAssembly builds (numpy's name pattern), which needs `wa-base` (pure)."""

import functools
import hashlib
import http.server
import json
import threading
from pathlib import Path

from wheel_factory import make_wheel

REPO = Path(__file__).resolve().parents[2]
PINNED_LOCK = REPO / "node_modules" / "pyodide" / "pyodide-lock.json"
PYODIDE_TAG = "cp314-cp314-pyemscripten_2026_0_wasm32"


def _entry(path: Path, name: str, imports: list[str], depends: list[str]) -> dict:
    return {"name": name, "version": "1.0", "file_name": path.name, "install_dir": "site",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "package_type": "package",
            "imports": imports, "depends": depends, "unvendored_tests": False, "tool": {}}


def make_mirror(folder: Path) -> tuple[Path, Path]:
    """(the mirror folder, the lock that pins its files)."""
    mirror = folder / "mirror"
    mirror.mkdir()
    fast = make_wheel(mirror, "wa-fast", requires=["wa-base"], tag=PYODIDE_TAG,
                      files={"wa_fast/__init__.py": "from wa_base import BASE\n\ndef go():\n    return BASE * 2\n"})
    base = make_wheel(mirror, "wa-base", files={"wa_base.py": "BASE = 21\n"})
    lock = json.loads(PINNED_LOCK.read_text())
    lock["packages"]["wa-fast"] = _entry(fast, "wa-fast", ["wa_fast"], ["wa-base"])
    lock["packages"]["wa-base"] = _entry(base, "wa-base", ["wa_base"], [])
    (mirror / "pyodide-lock.json").write_text(json.dumps(lock))  # as the CDN folder has; never trusted
    path = folder / "test-lock.json"
    path.write_text(json.dumps(lock))
    return mirror, path


class MirrorServer:
    """Serves `folder` on 127.0.0.1 with CORS (a page on another origin fetches from it); records paths."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def end_headers(self):
                server.requests.append(self.path)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Cross-Origin-Resource-Policy", "cross-origin")
                super().end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
