"""Our pyodide-lock.json: Pyodide's `info` and one entry per wheel we ship, with its real sha256.

Pyodide checks each package's sha256 before installing it (Chromium reports a
mismatch only as "Failed to fetch"), and the npm package's lock lists 350
packages whose files it does not ship; so the site's lock lists exactly
what dist/ holds. Same format as `pyodide lockfile add-wheels` writes.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from email.parser import Parser
from pathlib import Path

# The environment Requires-Dist markers are evaluated in: Pyodide's.
PYODIDE_MARKERS = {"sys_platform": "emscripten", "platform_system": "Emscripten", "os_name": "posix",
                   "implementation_name": "cpython", "platform_machine": "wasm32", "extra": ""}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_entry(wheel: Path, python: str) -> dict:
    """The lock entry of a pure-Python wheel."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_path = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_path).decode())
    imports = sorted({name.split("/")[0].removesuffix(".py") for name in names
                      if ".dist-info/" not in name and (name.count("/") == 0 and name.endswith(".py")
                                                      or name.count("/") == 1 and name.endswith("/__init__.py"))})
    markers = {**PYODIDE_MARKERS, "python_version": ".".join(python.split(".")[:2]), "python_full_version": python}
    depends = [canonical(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
               for requirement in metadata.get_all("Requires-Dist") or [] if _applies(requirement, markers)]
    return {
        "name": canonical(metadata["Name"]),
        "version": metadata["Version"],
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "package_type": "package",
        "imports": imports,
        "depends": depends,
        "unvendored_tests": False,
        "tool": {},
    }


def write_lock(pyodide_lock: Path, wheels: list[Path], target: Path) -> dict:
    """Write the lock for `wheels` (file names relative to `target`'s folder); returns it."""
    base = json.loads(pyodide_lock.read_text())
    python = base["info"]["python"]
    packages = {entry["name"]: entry for entry in (wheel_entry(wheel, python) for wheel in wheels)}
    missing = {dep for entry in packages.values() for dep in entry["depends"]} - set(packages)
    if missing:
        raise ValueError(f"the site's wheels depend on {sorted(missing)}, which the site does not ship")
    lock = {"info": base["info"], "packages": packages}
    target.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    return lock


def _applies(requirement: str, markers: dict[str, str]) -> bool:
    if ";" not in requirement:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:  # without packaging, a conditional dependency is taken as not for us
        return False
    return Marker(requirement.split(";", 1)[1].strip()).evaluate(markers)
