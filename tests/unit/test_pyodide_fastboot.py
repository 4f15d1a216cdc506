"""The patched Pyodide module factory that sandbox workers boot (wasm_agent/executor/pyodide_fastboot.py):
it fits the pinned Pyodide exactly, links exactly as the original does, and anything else boots unpatched."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from deno_sandbox import require_deno_sandbox

from wasm_agent.executor import pyodide_fastboot
from wasm_agent.executor.pyodide_fastboot import PatchError, fastboot_dir, patch_source

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()
REPO = Path(__file__).resolve().parents[2]
PINNED = sandbox.DEFAULT_PYODIDE_DIR


def test_every_patch_fits_the_pinned_pyodide_exactly_once():
    # Fails when the pinned Pyodide changes: the patches must then be written again for the new file.
    original = (PINNED / "pyodide.asm.mjs").read_text(encoding="utf-8")
    patched = patch_source(original)
    for _, before, after in pyodide_fastboot.PATCHES:
        assert before not in patched or before in after
        assert after in patched


def test_a_file_the_patches_do_not_fit_is_refused(tmp_path):
    with pytest.raises(PatchError, match="not the pinned one"):
        patch_source("async function _createPyodideModule(moduleArg={}){}")
    other = tmp_path / "pyodide"
    other.mkdir()
    for name in pyodide_fastboot.FILES:
        (other / name).write_text("// another Pyodide")
    with pytest.raises(PatchError):
        fastboot_dir(other, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("pyodide-fastboot-*"))


def test_the_patched_folder_is_made_once_and_holds_the_same_files(tmp_path):
    made = fastboot_dir(PINNED, tmp_path)
    stamp = (made / "pyodide.asm.mjs").stat().st_mtime_ns
    assert fastboot_dir(PINNED, tmp_path) == made
    assert (made / "pyodide.asm.mjs").stat().st_mtime_ns == stamp
    assert [path.name for path in tmp_path.iterdir()] == [made.name]  # no half-made folder left
    for name in pyodide_fastboot.FILES:
        if name != "pyodide.asm.mjs":
            assert (made / name).read_bytes() == (PINNED / name).read_bytes()


def test_a_host_whose_pyodide_does_not_fit_boots_it_unpatched(tmp_path):
    from wasm_agent.executor.sandbox_host import SandboxHost

    other = tmp_path / "pyodide"
    other.mkdir()
    for name in pyodide_fastboot.FILES:
        (other / name).write_text("// another Pyodide")
    host = SandboxHost(pyodide_dir=other, cache_dir=tmp_path / "cache")
    assert host.boot_dir == other
    assert host.snapshots.pyodide_dir == other
    assert "unpatched" in host.logs[-1]
    fitting = SandboxHost(cache_dir=tmp_path / "cache")
    assert fitting.boot_dir.name.startswith("pyodide-fastboot-")
    assert fitting.snapshots.pyodide_dir == fitting.boot_dir  # the snapshot is made from what boots


def test_the_patched_factory_links_and_restores_exactly_as_the_original(tmp_path):
    """Same table (every slot's wasm function), same global offset table (every symbol's value, in order),
    the same memory from a snapshot copied without its zero pages as from one copied whole, and a side
    module (what a package's C extension is) linked the same way by both."""
    patched = fastboot_dir(PINNED, tmp_path)
    run = subprocess.run(
        [sandbox.find_deno(), "run", "--no-prompt", "--no-config", "--no-lock", f"--allow-read={PINNED},{patched}",
         str(REPO / "tests" / "js" / "pyodide_fastboot_check.js"), str(PINNED), str(patched)],
        capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home()), "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["differences"] == []
    assert report["tableSlots"] > 10_000 and report["gotEntries"] > 8_000  # the whole linking was compared
    assert 0 < report["zeroPages"] < report["pages"]  # the sparse copy skipped pages, and copied others
    assert report["answers"] == [42, 45]
    side = report["side"]
    assert side["answer"] == side["expected"] and side["slot"] == report["tableSlots"]  # its export took the next slot
