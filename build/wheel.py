"""The wasm_agent wheel of the working tree, built offline once its build backend is cached.

The backend (setuptools, pinned with its hash in build/backend-requirements.txt)
is downloaded once from PyPI into .cache/site/backend and called through PEP 517
directly, on a copy of the sources: setuptools writes build/ and *.egg-info/ next
to what it builds, and build/ is this folder. The site build, the Pyodide test
run (tests/pyodide/run.py) and the browser tests all take their wheel from here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from wasm_agent import resources

REPO = resources.CHECKOUT  # None when the package is installed from its wheel
BACKEND_REQUIREMENTS = Path(__file__).with_name("backend-requirements.txt")
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "wasm_agent")


class BuildError(Exception):
    """The site cannot be built; the message says what to do."""


def source_digest(paths: list[Path]) -> str:
    """A short digest of the files under `paths` (names and contents)."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                digest.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_wheel(cache: Path) -> Path:
    """Build (or reuse) the wheel of the current sources; returns its path under `cache`.
    Installed from the wheel, there are no sources to build: the wheel it ships is the one."""
    if REPO is None:
        return resources.site_wheel()
    sources = [REPO / name for name in SOURCES if (REPO / name).exists()]
    out = cache / "wheels" / source_digest(sources)
    built = sorted(out.glob("*.whl"))
    if built:
        return built[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        src, wheel_dir = Path(tmp) / "src", Path(tmp) / "wheel"
        src.mkdir()
        for path in sources:
            if path.is_dir():
                shutil.copytree(path, src / path.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, src / path.name)
        wheel_from_tree(src, wheel_dir, cache)
        try:
            os.replace(wheel_dir, out)
        except OSError:  # a run side by side built the same sources meanwhile
            pass
    return next(out.glob("*.whl"))


def wheel_from_tree(src: Path, wheel_dir: Path, cache: Path) -> Path:
    """Build the wheel of the source tree `src` (a copy: setuptools writes into it) into `wheel_dir`."""
    backend = _backend(cache / "backend")
    wheel_dir.mkdir(parents=True, exist_ok=True)
    hook = "import sys, setuptools.build_meta as backend; backend.build_wheel(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", hook, str(wheel_dir)], cwd=src, text=True, check=False,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(backend)})
    if result.returncode:
        raise BuildError(f"{result.stdout}\nbuilding the wasm_agent wheel failed (output above)")
    return next(wheel_dir.glob("*.whl"))


def _backend(folder: Path) -> Path:
    """The build backend, unpacked; downloaded from PyPI (hash-checked) the first time only."""
    pinned = re.search(r"^([A-Za-z0-9_.-]+==[^\s\\]+)", BACKEND_REQUIREMENTS.read_text(), re.M).group(1)
    unpacked = folder / pinned.replace("==", "-")
    if unpacked.is_dir():
        return unpacked
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--require-hashes", "--dest", tmp, "-r", str(BACKEND_REQUIREMENTS)]
        if subprocess.run(command, check=False).returncode:
            raise BuildError(f"could not download the build backend {pinned} from PyPI (needed once; "
                             f"it is cached in {folder})")
        wheel = next(Path(tmp).glob("*.whl"))
        target = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
        try:
            os.replace(target, unpacked)
        except OSError:  # unpacked by a run side by side
            pass
    return unpacked
