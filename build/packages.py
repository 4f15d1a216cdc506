"""The wheels of `build --wheel …`: packages that generated code may import.

Each `--wheel` is a wheel file or a requirement (`python-dateutil`,
`six==1.17.0`). Requirements are downloaded with pip, with their
dependencies, as pure-Python wheels for Pyodide's Python, into
.cache/pypi-wheels/; a later build takes them from there without the network
(delete the folder to pick up newer releases). Dependencies count as Pyodide
sees them: Requires-Dist markers are evaluated for Emscripten (build/lockfile.py),
and one that pip left out for this machine is fetched too. The result is the
dependency closure of what was asked, each package once.

    python -m build.packages python-dateutil      # from the checkout: fetch into the cache, print the wheels
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from wasm_agent import resources
from wasm_agent.executor.packages import canonical_name

from .lockfile import Requirement, WheelError, is_pure_python, wheel_entry
from .wheel import BuildError

CACHE = resources.cache_dir("pypi-wheels")
NOT_FOUND = re.compile(r"Could not find a version that satisfies the requirement (\S+) \(from versions: ([^)]*)\)")


def collect_wheels(specs: list[str], python: str, *, cache: Path = CACHE, offline: bool = False,
                   log=print) -> list[Path]:
    """The wheel files for `specs` and all they depend on in Pyodide running Python `python`.

    `offline=True` takes requirements from `cache` only. Raises BuildError naming the package
    when one has no pure-Python wheel or a dependency cannot be found.
    """
    found: dict[str, tuple[Path, dict]] = {}  # canonical name -> (wheel, lock entry); given files win
    roots: list[str] = []
    requirements: list[str] = []
    for spec in specs:
        if spec.endswith(".whl"):
            path = Path(spec)
            if not path.is_file():
                raise BuildError(f"--wheel {spec}: no such file")
            entry = _entry(path, python)
            found[entry["name"]] = (path, entry)
            roots.append(entry["name"])
        else:
            try:
                roots.append(canonical_name(Requirement(spec).name))
            except Exception:  # noqa: BLE001 - packaging's InvalidRequirement, from either copy of packaging
                raise BuildError(f"--wheel {spec}: neither a .whl file nor a requirement like 'six' or 'six==1.17'") from None
            requirements.append(spec)
    asked: set[str] = set()
    needs = ""  # who needs what is fetched next, for the error if it cannot be
    while True:
        if requirements:
            asked.update(canonical_name(Requirement(r).name) for r in requirements)
            try:
                paths = _download(requirements, python, cache, offline, log)
            except BuildError as error:
                raise BuildError(f"{needs}: {error}" if needs else str(error)) from None
            for path in paths:
                entry = _entry(path, python)
                found.setdefault(entry["name"], (path, entry))
        # Dependencies of given wheel files, and those pip skipped because their markers differ here.
        missing = _missing(roots, found)
        if not missing:
            break
        needs = "; ".join(f"{', '.join(users)} needs {name}" for name, users in missing.items())
        if any(name in asked for name in missing):
            raise BuildError(f"{needs}, which pip did not provide")
        requirements = list(missing)
    return [found[name][0] for name in _closure(roots, found)]


def _entry(path: Path, python: str) -> dict:
    try:
        return wheel_entry(path, python)
    except WheelError as error:
        raise BuildError(str(error)) from None


def _missing(roots: list[str], found: dict[str, tuple[Path, dict]]) -> dict[str, list[str]]:
    """{name without a wheel: [the packages that need it]} over the dependency closure of `roots`."""
    missing: dict[str, list[str]] = {}
    for name in _closure(roots, found):
        for dependency in found[name][1]["depends"] if name in found else ():
            if dependency not in found:
                missing.setdefault(dependency, []).append(name)
    return missing


def _closure(roots: list[str], found: dict[str, tuple[Path, dict]]) -> list[str]:
    """The names reachable from `roots` through `depends`; names without a wheel are listed, not followed."""
    seen: list[str] = []
    stack = list(reversed(roots))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.append(name)
        if name in found:
            stack.extend(reversed(found[name][1]["depends"]))
    return seen


def _download(requirements: list[str], python: str, cache: Path, offline: bool, log) -> list[Path]:
    """Pure-Python wheels for `requirements` and their dependencies: from the cache if it has them all,
    else from PyPI (saved to the cache). Returns the cached paths."""
    cache.mkdir(parents=True, exist_ok=True)
    version = ".".join(python.split(".")[:2])
    with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                   "--only-binary=:all:", "--python-version", version, "--implementation", "py", "--abi", "none",
                   "--platform", "any", "--find-links", str(cache), "--dest", tmp, *requirements]
        result = subprocess.run([*command, "--no-index"], capture_output=True, text=True, check=False)
        if result.returncode and not offline:
            log(f"downloading {', '.join(requirements)} with pip (cache: {cache})")
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode:
            raise BuildError(_explain(result.stderr, version, offline, cache))
        paths = []
        for wheel in sorted(Path(tmp).glob("*.whl")):
            target = cache / wheel.name
            if not target.exists():
                shutil.move(wheel, target)
            paths.append(target)
        return paths


def _explain(stderr: str, version: str, offline: bool, cache: Path) -> str:
    match = NOT_FOUND.search(stderr)
    if match is None:
        return f"pip could not download the wheels:\n{stderr.strip()[-1500:]}"
    name = match.group(1)
    if offline:
        return f"{name}: not in the wheel cache {cache} (offline build); fetch it once with `python -m build.packages {name}`"
    return (f"{name}: no pure-Python wheel (py3-none-any) for Python {version} on the package index. The sandbox "
            "installs pure-Python wheels only; a package with compiled code needs a build for Pyodide "
            "(WebAssembly), which the pyodide npm package does not ship. Give `--wheel` a pure-Python "
            f"alternative, or a py3-none-any wheel file of {name} if you have one.")


if __name__ == "__main__":
    import json

    pyodide_lock = resources.pyodide_dir() / "pyodide-lock.json"
    try:
        for wheel in collect_wheels(sys.argv[1:], json.loads(pyodide_lock.read_text())["info"]["python"]):
            print(wheel)
    except BuildError as error:
        sys.exit(f"error: {error}")
