"""Our pyodide-lock.json: Pyodide's `info` and one entry per wheel we ship, with its real sha256.

Pyodide checks each package's sha256 before installing it (Chromium reports a
mismatch only as "Failed to fetch"), and the npm package's lock lists 350
packages whose files it does not ship; so the site's lock lists exactly
what dist/ holds. Same format as `pyodide lockfile add-wheels` writes.

Each entry's `depends` comes from the wheel's Requires-Dist, with environment
markers evaluated for Pyodide (no extras), and its `imports` from
top_level.txt or, without one, the wheel's file list: the agent resolves
`additional_authorized_imports` from them (wasm_agent/executor/packages.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from email.parser import Parser
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # pip, which the build runs anyway, vendors packaging
    from pip._vendor.packaging.requirements import Requirement

from wasm_agent.executor.packages import canonical_name

# The environment Requires-Dist markers are evaluated in: Pyodide's (Python's version comes from the lock).
PYODIDE_MARKERS = {"sys_platform": "emscripten", "platform_system": "Emscripten", "os_name": "posix",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython",
                   "platform_machine": "wasm32", "platform_release": "", "platform_version": "", "extra": ""}


class WheelError(ValueError):
    """A wheel the sandbox cannot install, or a set of wheels whose dependencies are incomplete."""


def pyodide_markers(python: str) -> dict[str, str]:
    """The marker environment of Pyodide running Python `python` (e.g. "3.14.2")."""
    return {**PYODIDE_MARKERS, "python_version": ".".join(python.split(".")[:2]), "python_full_version": python,
            "implementation_version": python}


def is_pure_python(file_name: str) -> bool:
    """True for a wheel that any Python 3 can unpack and import: tagged py3 (or py2.py3), none, any."""
    parts = file_name.removesuffix(".whl").split("-")
    if not file_name.endswith(".whl") or len(parts) < 5:
        return False
    python_tags, abi, platform = parts[-3:]
    return (abi == "none" and platform == "any"
            and any(re.fullmatch(r"py3\d*", tag) for tag in python_tags.split(".")))


def dependencies(requires_dist: list[str], markers: dict[str, str]) -> list[str]:
    """The canonical names of the requirements that apply in `markers` (extras left out)."""
    names = []
    for text in requires_dist:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(markers):
            name = canonical_name(requirement.name)
            if name not in names:
                names.append(name)
    return names


def top_level_modules(names: list[str], top_level_txt: str | None) -> list[str]:
    """What a wheel makes importable: top_level.txt when it has one, else its top-level modules and folders."""
    if top_level_txt is not None:
        modules = {line.strip().split("/")[0] for line in top_level_txt.splitlines() if line.strip()}
    else:
        modules = set()
        for name in names:
            first, _, rest = name.partition("/")
            if first.endswith((".dist-info", ".data")) or first == "__pycache__":
                continue
            if rest:  # a package folder (with or without __init__.py: namespace packages count)
                modules.add(first)
            elif first.endswith(".py"):
                modules.add(first.removesuffix(".py"))
    return sorted(module for module in modules if module.isidentifier())


def wheel_entry(wheel: Path, python: str) -> dict:
    """The lock entry of a pure-Python wheel, for Pyodide running Python `python`."""
    if not is_pure_python(wheel.name):
        raise WheelError(f"{wheel.name} is not a pure-Python wheel (py3-none-any): the sandbox can only "
                         "install those (see docs/site.md, 'Packages for generated code')")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next((n.split("/")[0] for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)), None)
        if dist_info is None:
            raise WheelError(f"{wheel.name} has no .dist-info/METADATA: not a wheel")
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        top_level = (archive.read(f"{dist_info}/top_level.txt").decode()
                     if f"{dist_info}/top_level.txt" in names else None)
    return {
        "name": canonical_name(metadata["Name"]),
        "version": metadata["Version"],
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "package_type": "package",
        "imports": top_level_modules(names, top_level),
        "depends": dependencies(metadata.get_all("Requires-Dist") or [], pyodide_markers(python)),
        "unvendored_tests": False,
        "tool": {},
    }


def missing_dependencies(packages: dict[str, dict]) -> dict[str, list[str]]:
    """{absent dependency: [the packages that need it]} for a set of lock entries."""
    missing: dict[str, list[str]] = {}
    for entry in packages.values():
        for dependency in entry["depends"]:
            if dependency not in packages:
                missing.setdefault(dependency, []).append(entry["name"])
    return missing


def write_lock(pyodide_lock: Path, wheels: list[Path], target: Path) -> dict:
    """Write the lock for `wheels` (file names relative to `target`'s folder); returns it."""
    base = json.loads(pyodide_lock.read_text())
    python = base["info"]["python"]
    packages = {entry["name"]: entry for entry in (wheel_entry(wheel, python) for wheel in wheels)}
    missing = missing_dependencies(packages)
    if missing:
        needs = "; ".join(f"{', '.join(users)} needs {dependency}" for dependency, users in sorted(missing.items()))
        raise WheelError(f"the site's wheels are incomplete: {needs}. Add each with `--wheel <name>` "
                         "(a requirement is downloaded with its dependencies) or `--wheel <its wheel file>`")
    lock = {"info": base["info"], "packages": packages}
    target.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    return lock
