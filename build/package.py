"""`python build/package.py --out DIR`: the two distributables, made from the checkout.

    DIR/wasm_agent-<version>-py3-none-any.whl   for Python users and site owners: the package, the site
                                                builder (as wasm_agent._build) and, as package data under
                                                wasm_agent/_assets/, the web/ runtime, the deno/ host,
                                                Pyodide's core files, wllama and the wheel Pyodide installs
    DIR/wasm-agent-<version>.tgz                for pages and bundlers (`npm pack`): the runtime (a site built
                                                without snapshots or the in-browser model), package.json
                                                `exports`, TypeScript types and `npx wasm-agent copy-assets`

Nothing moves in the repository: each is assembled in a temporary folder, in the layout
wasm_agent/resources.py expects (web/ and deno/ side by side, node_modules/ as npm has it).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: its build/ is the package `build`

from build.browser_model import WLLAMA_FILES  # noqa: E402
from build.editor_bundle import bundle_editor  # noqa: E402
from build.site import CACHE, PYODIDE_CORE, build_site  # noqa: E402
from build.wheel import REPO, BuildError, build_wheel, wheel_from_tree  # noqa: E402

NPM_SOURCES = REPO / "build" / "npm"
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", "*_test.js", "README.md")
# Checkout-only tools of build/ (they need the repository); the rest is the site builder the wheel carries.
NOT_SHIPPED = {"package.py", "measure_site.py"}


def version() -> str:
    return re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)


def build_python_wheel(out: Path, cache: Path, log=print) -> Path:
    """The wheel of the package with its assets and site builder."""
    site_wheel = build_wheel(cache)  # what Pyodide installs: the package alone
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            shutil.copy2(REPO / name, src / name)
        package = src / "wasm_agent"
        shutil.copytree(REPO / "wasm_agent", package, ignore=SKIPPED)
        (package / "_build").mkdir()
        for path in sorted((REPO / "build").iterdir()):
            if path.is_file() and path.name not in NOT_SHIPPED:
                shutil.copy2(path, package / "_build" / path.name)
        assets = package / "_assets"
        shutil.copytree(REPO / "web", assets / "web", ignore=SKIPPED)
        if bundle_editor(assets / "web" / "playground", log) is None:  # sites built from the wheel need it
            raise BuildError("the wheel needs the playground's code editor bundle: run `npm ci` first")
        shutil.copytree(REPO / "deno", assets / "deno", ignore=SKIPPED)
        node_modules = REPO / "node_modules"
        shipped = [f"pyodide/{name}" for name in (*PYODIDE_CORE, "pyodide-lock.json", "package.json")]
        shipped += [source for source, _ in WLLAMA_FILES]
        shipped += sorted({f"{'/'.join(source.split('/')[:2])}/package.json" for source, _ in WLLAMA_FILES})
        for relative in shipped:
            target = assets / "node_modules" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(node_modules / relative, target)
        (assets / "wheel").mkdir()
        shutil.copy2(site_wheel, assets / "wheel" / site_wheel.name)
        log("building the wheel with its assets")
        wheel = wheel_from_tree(src, Path(tmp) / "wheel", cache)
        out.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(wheel, out / wheel.name))


def build_npm_tarball(out: Path, log=print) -> Path:
    """The npm package: the runtime folder, the manifest, the types and the copy-assets command."""
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "package"
        stage.mkdir()
        build_site(stage / "runtime", snapshot=False, browser_model="none", log=log)
        manifest = json.loads((NPM_SOURCES / "package.json").read_text())
        manifest["version"] = version()
        (stage / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for path in NPM_SOURCES.iterdir():
            if path.name != "package.json":
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, stage / path.name)
        shutil.copy2(REPO / "LICENSE", stage / "LICENSE")
        out.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(out.resolve())], cwd=stage,
                                capture_output=True, text=True, check=False)
        if result.returncode:
            raise BuildError(f"npm pack failed:\n{result.stderr.strip()[-1500:]}")
        return out / result.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the wheel and the npm tarball")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = args.out.resolve()
    try:
        made = [build_python_wheel(out, CACHE), build_npm_tarball(out)]
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in made:
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
    print(f"packaged in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
