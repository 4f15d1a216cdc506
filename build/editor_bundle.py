"""Build step of the playground's code editor: CodeMirror 6 (npm, package-lock.json) bundled with esbuild.

    bundle_editor(site / "playground")   # writes playground/codemirror.js, one self-contained ES module

The entry is build/codemirror.entry.js. Without esbuild or CodeMirror under node_modules (an install
without the npm packages), the site is built without the bundle and the playground edits tools in plain
text boxes, with the same checks.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from wasm_agent import resources

ENTRY = Path(__file__).with_name("codemirror.entry.js")
BUNDLE_NAME = "codemirror.js"


def bundle_editor(out: Path, log=print) -> Path | None:
    """`out/codemirror.js`, or None (and a line in the log) when the bundler or the editor is missing."""
    node_modules = resources.node_modules_dir()
    esbuild = node_modules / ".bin" / "esbuild"
    if not esbuild.exists() or not (node_modules / "codemirror").is_dir() or not ENTRY.is_file():
        log("no code editor bundle in this build (run `npm ci` for esbuild and CodeMirror): "
            "the playground uses plain text boxes")
        return None
    target = out / BUNDLE_NAME
    result = subprocess.run([str(esbuild), str(ENTRY), "--bundle", "--format=esm", "--minify", "--legal-comments=none",
                             f"--outfile={target}"], capture_output=True, text=True, check=False,
                            cwd=node_modules.parent)
    if result.returncode:
        log(f"no code editor bundle in this build: esbuild failed: {result.stderr.strip()[-800:]}")
        return None
    return target
