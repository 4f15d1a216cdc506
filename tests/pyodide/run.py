"""Run the unit tests inside Pyodide (Python 3.14 in WebAssembly) under Node.

    python tests/pyodide/run.py                      # pytest tests/unit tests/pyodide
    python tests/pyodide/run.py tests/unit/test_messages.py -k usage -x

1. Downloads, once, the pinned wheels of pytest & co for Python 3.14 and of
   the build backend into .cache/pyodide/ (the only step that needs PyPI).
2. Builds the wasm_agent wheel from the working tree, offline; skipped when
   the package sources did not change since the last build.
3. Hands the wheels and the pytest arguments to run.mjs, which runs pytest in
   the Pyodide of node_modules (npm ci) and exits with pytest's exit code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
from build.wheel import source_digest  # noqa: E402 - the site build's digest of the same sources
CACHE = REPO / ".cache" / "pyodide"
PYODIDE_PYTHON = "3.14"  # the Python of the pinned pyodide npm package (package.json)

# What setuptools reads to build the wheel; the rest of the tree is not copied.
WHEEL_SOURCES = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "wasm_agent")


def main(pytest_args: list[str]) -> int:
    wheels = download(HERE / "requirements.txt", CACHE / "wheels", python_version=PYODIDE_PYTHON)
    backend = download(HERE / "build-requirements.txt", CACHE / "build")
    wheels.append(build_wheel(backend, CACHE / "dist"))
    node = shutil.which("node")
    if node is None:
        sys.exit("run.py: node not found; install Node >= 20 and run `npm ci` at the repo root")
    check_pyodide_installed()
    pytest_args = pytest_args or ["tests/unit", "tests/pyodide"]
    return subprocess.call([node, str(HERE / "run.mjs"), *map(str, wheels), "--", *pytest_args], cwd=REPO)


def check_pyodide_installed() -> None:
    """Stop with advice when node_modules lacks the Pyodide that package-lock.json pins."""
    pinned = json.loads((REPO / "package-lock.json").read_text())["packages"]["node_modules/pyodide"]["version"]
    installed = REPO / "node_modules" / "pyodide" / "package.json"
    version = json.loads(installed.read_text())["version"] if installed.exists() else None
    if version != pinned:
        found = f"pyodide {version}" if version else "no pyodide"
        sys.exit(f"run.py: node_modules has {found}, package-lock.json pins {pinned}: run `npm ci` at the repo root")


def pinned_names(requirements: Path) -> list[tuple[str, str]]:
    """(name, version) of each `name==version` line of a requirements file."""
    text = requirements.read_text()
    return [(name, version) for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", text, re.M)]


def download(requirements: Path, directory: Path, *, python_version: str | None = None) -> list[Path]:
    """The wheels pinned in `requirements`, downloaded once into `directory`."""
    pins = pinned_names(requirements)
    found = [wheel_in(directory, name, version) for name, version in pins]
    if all(found):
        return found
    directory.mkdir(parents=True, exist_ok=True)
    # Download into a fresh folder, then move: runs started side by side never see half a file.
    with tempfile.TemporaryDirectory(dir=directory.parent) as tmp:
        target = ["--python-version", python_version] if python_version else []
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                   "--only-binary=:all:", *target, "--dest", tmp, "-r", str(requirements)]
        print(f"run.py: downloading the wheels of {requirements.name} into {directory}", flush=True)
        subprocess.run(command, check=True)
        for wheel in Path(tmp).glob("*.whl"):
            os.replace(wheel, directory / wheel.name)
    found = [wheel_in(directory, name, version) for name, version in pins]
    missing = [f"{name}=={version}" for (name, version), wheel in zip(pins, found) if wheel is None]
    if missing:
        sys.exit(f"run.py: pip did not download {', '.join(missing)} as a wheel")
    return found


def wheel_in(directory: Path, name: str, version: str) -> Path | None:
    stem = re.sub(r"[-_.]+", "_", name).lower()
    for wheel in directory.glob("*.whl"):
        if wheel.name.lower().startswith(f"{stem}-{version}-"):
            return wheel
    return None


def build_wheel(backend_wheels: list[Path], dist: Path) -> Path:
    """The wasm_agent wheel of the working tree, built offline from a copy of its sources.

    It calls the PEP 517 backend of pyproject.toml itself, with the backend's
    unpacked wheels on PYTHONPATH: what pip's build isolation does, minus the
    virtualenv that costs 3-4 s. A copy, because setuptools writes build/ and
    *.egg-info/ next to the sources, and build/ is a folder of this repo.
    """
    sources = [REPO / name for name in WHEEL_SOURCES if (REPO / name).exists()]
    out = dist / source_digest(sources)
    built = list(out.glob("*.whl"))
    if built:
        return built[0]
    backend = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["build-backend"]
    python_path = os.pathsep.join(str(unpacked(wheel)) for wheel in backend_wheels)
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dist) as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for path in sources:
            if path.is_dir():
                shutil.copytree(path, src / path.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, src / path.name)
        wheel_dir = Path(tmp) / "wheel"
        wheel_dir.mkdir()
        hook = f"import sys, {backend} as backend; backend.build_wheel(sys.argv[1])"
        build = subprocess.run([sys.executable, "-c", hook, str(wheel_dir)], cwd=src, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": python_path})
        if build.returncode:  # its chatter only matters when it fails
            sys.exit(f"{build.stdout}\nrun.py: building the wasm_agent wheel failed")
        try:
            os.replace(wheel_dir, out)
        except OSError:  # another run built the same sources meanwhile
            pass
    prune(dist, keep=out)
    return next(out.glob("*.whl"))


def unpacked(wheel: Path) -> Path:
    """A folder holding the contents of `wheel` (unpacked once, next to it)."""
    folder = wheel.with_suffix("")
    if not folder.is_dir():
        tmp = tempfile.mkdtemp(dir=wheel.parent)
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:  # unpacked by a parallel run
            shutil.rmtree(tmp)
    return folder


def prune(dist: Path, *, keep: Path) -> None:
    """Remove wheels of older sources, unless recent enough to be in use by a parallel run."""
    for old in dist.iterdir():
        if old != keep and old.is_dir() and not old.name.startswith("tmp") and time.time() - old.stat().st_mtime > 600:
            shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
