"""`build --packages-url URL`: compiled packages (numpy, pandas…) for generated code, on demand.

Pyodide's WebAssembly builds are on no package index, only in Pyodide's own
distribution (the CDN folder of a Pyodide version, or a mirror laid out like
it). The site keeps the pinned Pyodide's lock as pyodide/distribution-lock.json
and build.json names the URL; when an agent authorizes an import that the
site's own wheels lack, the agent worker resolves it in that lock, fetches the
wheels with their dependencies from the URL (never the sandbox), checks each
sha256 against the lock and keeps them in Cache Storage (web/agent-python.js).
Without the option nothing changes: the site fetches nothing from elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from .wheel import BuildError

LOCK_NAME = "distribution-lock.json"


def check_packages_url(url: str) -> str:
    """An http(s) URL, or a path on the site's own host ("/pyodide-packages/"); with a trailing "/"."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname or not parts.scheme and url.startswith(("/", "./", "../")):
        return url if url.endswith("/") else url + "/"
    raise BuildError(f"--packages-url {url!r}: give the http(s) URL of a Pyodide package distribution "
                     "(the folder that holds pyodide-lock.json and the wheels), or a path on the site's host")


def add_distribution(pyodide_folder: Path, url: str, lock: Path) -> str:
    """Put the lock of the distribution at `url` into the site's pyodide/ folder; returns the checked URL."""
    url = check_packages_url(url)
    try:
        data = json.loads(Path(lock).read_text())
        packages = data["packages"]
    except (OSError, ValueError, KeyError) as error:
        raise BuildError(f"cannot read the package lock {lock} ({error})") from None
    (pyodide_folder / LOCK_NAME).write_text(json.dumps({"info": data.get("info", {}), "packages": packages},
                                                       separators=(",", ":"), sort_keys=True))
    return url
