"""Size of the two distributables and the time to install them, next to smolagents 1.26.0.

    python bench/package_size.py                 # builds both into .cache/package/, 3 rounds
    python bench/package_size.py --rounds 5 --dist DIR    # use the wheel and tarball already in DIR

Sizes: the wheel and the npm tarball, and what takes the room in the wheel (compressed bytes per
part). Install: per round, interleaved, a fresh venv (made before the clock starts) gets
`pip install <our wheel>` (with deno from PyPI) or `pip install smolagents==1.26.0` (with its
dependencies); then a scratch npm project gets `npm install <tarball>`. pip's cache is warm for both
sides after the first round, so the figures are install work, not download speed (the first round is
left out of the medians). Prints medians (minima). Nothing asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BASELINE = "smolagents==1.26.0"
# Parts of the wheel, by path prefix (first match), for the table of what takes the room.
PARTS = [
    ("Pyodide core (node_modules/pyodide)", "wasm_agent/_assets/node_modules/pyodide/"),
    ("wllama, main build", "wasm_agent/_assets/node_modules/@wllama/wllama/"),
    ("wllama, compat build (browsers without memory64/JSPI)", "wasm_agent/_assets/node_modules/@wllama/wllama-compat/"),
    ("the wasm_agent wheel that Pyodide installs", "wasm_agent/_assets/wheel/"),
    ("web/ and deno/", "wasm_agent/_assets/"),
    ("Python: wasm_agent and its site builder", "wasm_agent/"),
    ("metadata", ""),
]


def quiet(command: list[str], **options) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **options)
    if result.returncode:
        sys.exit(f"{' '.join(command[:4])}… failed:\n{result.stderr[-2000:]}")


def distributables(folder: Path | None) -> tuple[Path, Path]:
    if folder is None:
        folder = REPO / ".cache" / "package"
        for old in folder.glob("*"):
            old.unlink()
        quiet([sys.executable, str(REPO / "build" / "package.py"), "--out", str(folder)])
    return next(folder.glob("wasm_agent-*.whl")), next(folder.glob("wasm-agent-*.tgz"))


def wheel_parts(wheel: Path) -> list[tuple[str, int, int]]:
    sizes = {label: [0, 0] for label, _ in PARTS}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            label = next(label for label, prefix in PARTS if info.filename.startswith(prefix))
            sizes[label][0] += info.compress_size
            sizes[label][1] += info.file_size
    return [(label, *sizes[label]) for label, _ in PARTS]


def pip_install_seconds(requirement: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        venv.EnvBuilder(with_pip=True).create(tmp)
        started = time.perf_counter()
        quiet([f"{tmp}/bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
        return time.perf_counter() - started


def npm_install_seconds(tarball: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "package.json").write_text('{"name": "bench-app", "private": true}')
        started = time.perf_counter()
        quiet(["npm", "install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", str(tarball)], cwd=tmp)
        return time.perf_counter() - started


def summary(values: list[float]) -> str:
    kept = values[1:] or values  # the first round fills pip's cache
    return f"{statistics.median(kept):.1f} s ({min(kept):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dist", type=Path, default=None, help="a folder with the wheel and the tarball")
    args = parser.parse_args()
    wheel, tarball = distributables(args.dist)
    print(f"{wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB")
    print(f"{tarball.name}: {tarball.stat().st_size / 1e6:.2f} MB")
    print("\n| part of the wheel | compressed MB | unpacked MB |\n|---|---|---|")
    for label, packed, unpacked in wheel_parts(wheel):
        print(f"| {label} | {packed / 1e6:.2f} | {unpacked / 1e6:.2f} |")
    ours, theirs, npm = [], [], []
    for round_number in range(args.rounds):
        ours.append(pip_install_seconds(str(wheel)))
        theirs.append(pip_install_seconds(BASELINE))
        npm.append(npm_install_seconds(tarball))
        print(f"round {round_number + 1}: ours {ours[-1]:.1f} s, {BASELINE} {theirs[-1]:.1f} s, npm {npm[-1]:.1f} s",
              file=sys.stderr)
    print(f"\n| install (fresh venv / project, warm caches) | median (min) |\n|---|---|")
    print(f"| pip install wasm-agent wheel (+ deno) | {summary(ours)} |")
    print(f"| pip install {BASELINE} (+ its dependencies) | {summary(theirs)} |")
    print(f"| npm install wasm-agent tarball | {summary(npm)} |")


if __name__ == "__main__":
    main()
