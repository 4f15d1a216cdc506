"""The test site of the in-browser model (no pytest here; used by test_browser_model.py and the bench).

Layout, as in dist/: web/ at the root (browser-model.js), wllama/ and models/
from build/browser_model.py, Pyodide under /pyodide/, the wasm_agent wheel
under /wheels/, test pages under /test/. The site can refuse the model files, to
play a visitor who is offline.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SITE_CACHE = REPO / ".cache" / "browser-model" / "site"

sys.path.insert(0, str(HERE))
from harness import (  # noqa: F401
    CHROMIUM_ARGS,
    StaticSite,
    build_wheel,
    launch_chromium,
)


def build_model_files(out: Path = SITE_CACHE) -> Path:
    """wllama and the default GGUF under `out` (hard links into the cache; the download happens once)."""
    spec = importlib.util.spec_from_file_location("browser_model_build", REPO / "build" / "browser_model.py")
    module = sys.modules.setdefault("browser_model_build", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    module.build_browser_model(out)
    return out


def site_mounts(model_files: Path, wheel: Path | None = None) -> dict[str, Path]:
    mounts = {"/": REPO / "web", "/wllama/": model_files / "wllama", "/models/": model_files / "models",
              "/pyodide/": REPO / "node_modules" / "pyodide", "/test/": HERE / "site"}
    if wheel is not None:
        mounts["/wheels/"] = wheel.parent
    return mounts


class ModelSite(StaticSite):
    """The model's test site; `offline_models = True` makes /models/ fail like a dead network."""

    @property
    def offline_models(self) -> bool:
        return "/models/" in self.refused

    @offline_models.setter
    def offline_models(self, offline: bool) -> None:
        (self.refused.add if offline else self.refused.discard)("/models/")

    def model_requests(self) -> list[str]:
        return [r for r in self.requests if "/models/" in r]
