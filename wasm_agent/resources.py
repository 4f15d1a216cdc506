"""Where the files that are not this package's Python live: the one place that knows.

    web/                     the browser runtime and UI (the site is made of it)
    deno/                    the Deno host of the sandbox and the agent runner
    node_modules/pyodide/    Pyodide's core files (the pinned npm package)
    node_modules/@wllama/    wllama, the in-browser model's engine
    site builder             the `build` and `serve` commands' modules (build/ of the repository)

Installed from the wheel, they are package data under `wasm_agent/_assets/` and the site builder is
`wasm_agent._build` (build/package.py assembles both, keeping the repository's layout, so `deno/`
still finds `../web/`). In a checkout they are the repository's own folders. Either way callers get
real folders on disk: Deno and the site build read them as files, so a zipped install is not supported.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.resources import files
from pathlib import Path
from types import ModuleType

PACKAGE_DIR = Path(str(files(__package__)))
_ASSETS = PACKAGE_DIR / "_assets"
# The repository this package runs from, or None when it is installed from the wheel.
CHECKOUT: Path | None = None if _ASSETS.is_dir() else PACKAGE_DIR.parent
_ROOT = CHECKOUT or _ASSETS


def web_dir() -> Path:
    return _ROOT / "web"


def deno_dir() -> Path:
    return _ROOT / "deno"


def node_modules_dir() -> Path:
    """The npm packages the site and the sandbox use (in the wheel: only the files they load)."""
    return _ROOT / "node_modules"


def pyodide_dir() -> Path:
    return node_modules_dir() / "pyodide"


def site_wheel() -> Path | None:
    """The wasm_agent wheel that Pyodide installs (the package without these assets), shipped in the
    installed wheel; None in a checkout, where the site build makes it from the sources."""
    found = sorted((_ASSETS / "wheel").glob("wasm_agent-*.whl")) if CHECKOUT is None else []
    return found[0] if found else None


def cache_dir(name: str) -> Path:
    """A cache folder: `.cache/<name>` of the checkout, or `~/.cache/wasm-agent/<name>` when installed."""
    if CHECKOUT is not None:
        return CHECKOUT / ".cache" / name
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wasm-agent" / name


def default_site_dir() -> Path:
    """Where `build` writes the site unless told: dist/ of the checkout, or ./dist when installed."""
    return (CHECKOUT / "dist") if CHECKOUT is not None else Path.cwd() / "dist"


def site_builder(name: str) -> ModuleType:
    """A module of the site builder (`site`, `serve`, `browser_model`, …), installed or from the checkout."""
    if CHECKOUT is None:
        return importlib.import_module(f"{__package__}._build.{name}")
    if not (CHECKOUT / "build" / "site.py").is_file():
        raise ModuleNotFoundError(f"the site builder is missing: no {CHECKOUT / 'build'} and no packaged copy")
    sys.path.insert(0, str(CHECKOUT))
    try:
        return importlib.import_module(f"build.{name}")
    finally:
        sys.path.remove(str(CHECKOUT))
