"""Which wheels make `additional_authorized_imports` importable in the sandbox.

The sandbox fetches nothing, so its packages come from a lock file next to
the wheels (pyodide-lock.json, as `python -m wasm_agent build --wheel …`
writes it): each entry names a wheel, the modules it provides (`imports`) and
the packages it needs (`depends`, evaluated for Pyodide at build time). Like
micropip, installing a module installs its package's whole dependency
closure, each package once, dependencies first. The browser agent worker and
the Deno sandbox executor both resolve through here.

    >>> lock = {"packages": {
    ...     "python-dateutil": {"name": "python-dateutil", "imports": ["dateutil"], "depends": ["six"]},
    ...     "six": {"name": "six", "imports": ["six"], "depends": []}}}
    >>> [entry["name"] for entry in wheels_for_imports(lock, ["dateutil", "json"])]
    ['six', 'python-dateutil']
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import ExecutorUnavailableError

BUILD_HINT = "`python -m wasm_agent build --wheel <requirement or pure-Python wheel>`"


# Standard-library modules that Pyodide cannot import (no terminal, windows, users or dbm there),
# measured by importing each of `sys.stdlib_module_names` in Pyodide 314.
NOT_IN_PYODIDE = frozenset({
    "curses", "dbm", "ensurepip", "grp", "idlelib", "msvcrt", "nt", "pwd", "readline",
    "resource", "syslog", "tkinter", "turtle", "turtledemo", "venv", "winreg", "winsound",
})


class MissingPackageError(ExecutorUnavailableError):
    """An authorized import that no wheel of the lock provides, or a lock entry whose dependency is absent."""


def canonical_name(name: str) -> str:
    """A package name as the lock spells it (PEP 503: `Python_Dateutil` -> `python-dateutil`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheels_for_imports(lock: Mapping, names: Iterable[str], *, stdlib: Iterable[str] | None = None,
                       source: str = "this site", hint: str = f"build the site with {BUILD_HINT}") -> list[dict]:
    """The lock entries to install so that `names` import: the dependency closure, dependencies first.

    Standard-library modules and "*" need nothing. Raises `MissingPackageError` for a module
    no wheel provides, or for an entry whose dependency the lock lacks (naming both).
    """
    packages: Mapping[str, dict] = lock.get("packages", {})
    stdlib = set(sys.stdlib_module_names if stdlib is None else stdlib)
    providers = {module: entry for entry in packages.values() for module in entry.get("imports", ())}
    roots, missing = [], []
    for name in names:
        top = name.split(".")[0]
        if top in NOT_IN_PYODIDE:
            raise MissingPackageError(f"{name}: part of Python's standard library, but Pyodide cannot import it "
                                      "(it has no terminal, windows or users)")
        if top == "*" or top in stdlib:
            continue
        if top in providers:
            roots.append(providers[top])
        else:
            missing.append(name)
    if missing:
        them = "them" if len(missing) > 1 else "it"
        raise MissingPackageError(f"{', '.join(missing)}: no wheel in {source} provides {them}; "
                                  f"{hint}")
    ordered: list[dict] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def visit(entry: dict) -> None:
        name = canonical_name(entry["name"])
        if name in placed or name in visiting:  # installed already, or a cycle: unpacking order is free there
            return
        visiting.add(name)
        for dependency in entry.get("depends", ()):
            needed = packages.get(canonical_name(dependency))
            if needed is None:
                raise MissingPackageError(f"{entry['name']} depends on {dependency}, which is not in the lock of "
                                          f"{source}; add it with `python -m wasm_agent build --wheel {dependency}`")
            visit(needed)
        visiting.discard(name)
        placed.add(name)
        ordered.append(entry)

    for root in roots:
        visit(root)
    return ordered


def with_distribution(site_lock: Mapping, distribution_lock: Mapping) -> dict:
    """One lock of the site's wheels and a Pyodide package distribution's (the pinned Pyodide's lock,
    e.g. numpy's WebAssembly build); each entry says where its file is (`origin`: "site" or
    "distribution"). The site's own wheels win over the distribution's of the same name."""
    packages = {canonical_name(name): {**entry, "origin": "distribution"}
                for name, entry in distribution_lock.get("packages", {}).items()}
    packages.update({canonical_name(name): {**entry, "origin": "site"}
                     for name, entry in site_lock.get("packages", {}).items()})
    return {"info": site_lock.get("info") or distribution_lock.get("info"), "packages": packages}


def check_installable(entries: Iterable[Mapping]) -> None:
    """Refuse what the sandbox cannot install by unpacking: shared libraries loaded with `loadDynlib`."""
    for entry in entries:
        if entry.get("package_type") == "shared_library":
            raise MissingPackageError(f"{entry['name']} is a shared library ({entry['file_name']}); the sandbox "
                                      "installs wheels only, so packages that need one are not available yet")


def read_locked_wheel(folder: Path, entry: Mapping) -> bytes:
    """The bytes of a lock entry's wheel in `folder`, checked against the lock's sha256."""
    path = Path(folder) / entry["file_name"]
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MissingPackageError(f"{entry['name']}: its wheel {path} is missing ({error.strerror})") from None
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise MissingPackageError(f"{path} does not match the lock file's sha256 (rebuild the lock)")
    return data


def wheels_from_folder(folder: str | os.PathLike | None, names: Iterable[str]) -> dict[str, str]:
    """{file name: base64 bytes} of what `names` need, resolved in `folder`'s pyodide-lock.json
    (a built site's dist/pyodide), dependencies first, each checked against the lock's sha256."""
    if folder is None:
        wheels_for_imports({}, names, source="the sandbox (no wheel folder was given)",
                           hint=f"build a site with {BUILD_HINT} and pass its dist/pyodide folder as wheels=")
        return {}
    folder = Path(folder)
    try:
        lock = json.loads((folder / "pyodide-lock.json").read_text())
    except (OSError, ValueError) as error:
        raise MissingPackageError(f"{folder} holds no readable pyodide-lock.json ({error}); give a folder that "
                                  "`python -m wasm_agent build --wheel …` wrote (dist/pyodide)") from None
    return {entry["file_name"]: base64.b64encode(read_locked_wheel(folder, entry)).decode()
            for entry in wheels_for_imports(lock, names, source=str(folder))}
