"""Compiled packages for generated code on CPython: wheels from a Pyodide package distribution.

Pyodide's WebAssembly builds (numpy, pandas…) are on no package index, only in
Pyodide's distribution: the CDN folder of a Pyodide version, or a mirror laid
out like it (`<url>/<file_name>` for each entry of its lock). Given such a
URL, `additional_authorized_imports=["numpy"]` resolves against the lock of
the *pinned* Pyodide (never a lock the mirror serves: the pinned one is what
makes a tampered file detectable), fetches each wheel with its dependencies
here, on the host (the sandbox fetches nothing), checks its sha256 against the
lock, and keeps it in a cache folder, so the next sandbox starts offline.

    >>> DenoSandboxExecutor(["numpy"], packages_url="https://cdn.jsdelivr.net/pyodide/v314.0.7/full/")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from .packages import (
    BUILD_HINT,
    MissingPackageError,
    check_installable,
    read_locked_wheel,
    wheels_for_imports,
    with_distribution,
)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wasm-agent" / "packages"


def read_lock(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise MissingPackageError(f"cannot read the package lock {path} ({error})") from None


def distribution_wheels(names: Iterable[str], *, packages_url: str, lock: Path,
                        site_folder: str | os.PathLike | None = None,
                        cache_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """{file name: base64 bytes} of what `names` need, dependencies first: from `site_folder`'s
    wheels (a built site's dist/pyodide) when it has them, else from the distribution at `packages_url`
    as `lock` lists them (each sha256 checked; cached in `cache_dir`)."""
    site_lock = read_lock(Path(site_folder) / "pyodide-lock.json") if site_folder else {}
    merged = with_distribution(site_lock, read_lock(lock))
    entries = wheels_for_imports(merged, names, source=f"the package distribution {packages_url}",
                                 hint=f"it is not in the pinned Pyodide's lock either; for a pure-Python "
                                      f"package use {BUILD_HINT}")
    check_installable(entries)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    wheels = {}
    for entry in entries:
        if entry["origin"] == "site":
            data = read_locked_wheel(Path(site_folder), entry)
        else:
            data = fetch_checked(packages_url, entry, cache)
        wheels[entry["file_name"]] = base64.b64encode(data).decode()
    return wheels


def fetch_checked(packages_url: str, entry: Mapping, cache: Path) -> bytes:
    """The bytes of a lock entry's file: from `cache` when there, else from the distribution;
    a file whose sha256 differs from the lock's is refused (and never cached)."""
    name, expected = entry["file_name"], entry["sha256"]
    cached = cache / expected[:16] / name
    if cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == expected:
            return data
    url = packages_url.rstrip("/") + "/" + name
    data = _download(url)
    if hashlib.sha256(data).hexdigest() != expected:
        raise MissingPackageError(f"{url} does not match the sha256 that the pinned Pyodide's lock lists for "
                                  f"{entry['name']} ({expected[:16]}…): the distribution's file was changed "
                                  "or is for another Pyodide version; refusing it")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, cached)
    return data


def _download(url: str) -> bytes:
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        if scheme:
            raise MissingPackageError(f"packages_url must be an http(s) or file URL, or a folder, not {url!r}")
        url = Path(url).resolve().as_uri()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - the URL the user configured
            return response.read()
    except urllib.error.HTTPError as error:
        raise MissingPackageError(f"cannot fetch {url} from the package distribution (HTTP {error.code}); is "
                                  "it the folder of this Pyodide version?") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise MissingPackageError(f"cannot fetch {url} from the package distribution ({reason})") from None
