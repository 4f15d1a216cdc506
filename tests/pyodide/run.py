"""Run the unit tests inside Pyodide (Python 3.14 in WebAssembly) under Node.

    python tests/pyodide/run.py                      # pytest tests/unit tests/pyodide
    python tests/pyodide/run.py tests/unit/test_messages.py -k usage -x

1. Downloads, once, the pinned wheels of pytest & co for Python 3.14 into
   .cache/pyodide/ (with the build backend, the only step that needs PyPI).
2. Takes the wasm_agent wheel of the working tree from build/wheel.py, the
   site's own builder (offline; rebuilt only when the sources changed).
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
from build.wheel import BuildError, build_wheel  # noqa: E402 - the site's wheel builder
CACHE = REPO / ".cache" / "pyodide"
PYODIDE_PYTHON = "3.14"  # the Python of the pinned pyodide npm package (package.json)


def main(pytest_args: list[str]) -> int:
    wheels = download(HERE / "requirements.txt", CACHE / "wheels", python_version=PYODIDE_PYTHON)
    try:
        wheels.append(build_wheel(REPO / ".cache" / "site"))
    except BuildError as error:
        sys.exit(f"run.py: {error}")
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
