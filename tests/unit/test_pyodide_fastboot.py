"""The patched Pyodide module factory that sandbox workers boot (wasm_agent/executor/pyodide_fastboot.py):
it fits the pinned Pyodide exactly, links exactly as the original does, and anything else boots unpatched."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deno_sandbox import require_deno_sandbox

from wasm_agent.executor import pyodide_fastboot, pyodide_prelink
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


def compare_links(patched: Path) -> dict:
    """tests/js/pyodide_fastboot_check.js on the pinned Pyodide and `patched`: its report."""
    run = subprocess.run(
        [sandbox.find_deno(), "run", "--no-prompt", "--no-config", "--no-lock", f"--allow-read={PINNED},{patched}",
         str(REPO / "tests" / "js" / "pyodide_fastboot_check.js"), str(PINNED), str(patched)],
        capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home()), "DENO_NO_UPDATE_CHECK": "1", "NO_COLOR": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_patched_factory_links_and_restores_exactly_as_the_original(tmp_path):
    """Same table (every slot's wasm function), same global offset table (every symbol's value, in order),
    the same memory from a snapshot copied without its zero pages as from one copied whole, and a side
    module (what a package's C extension is) linked the same way by both."""
    report = compare_links(fastboot_dir(PINNED, tmp_path))
    assert report["differences"] == []
    assert report["tableSlots"] > 10_000 and report["gotEntries"] > 8_000  # the whole linking was compared
    assert 0 < report["zeroPages"] < report["pages"]  # the sparse copy skipped pages, and copied others
    assert report["answers"] == [42, 45]
    assert report["linkedFromLayout"] == [True, True, True]  # the exports' link was the one worked out beforehand
    asked = report["asked"]
    assert asked["again"] == asked["first"] and asked["reused"] == asked["first"]
    side = report["side"]
    assert side["answer"] == side["expected"] and side["slot"] == report["tableSlots"]  # its export took the next slot


def test_a_layout_that_does_not_fit_the_module_leaves_the_link_to_the_linker(tmp_path):
    made = fastboot_dir(PINNED, tmp_path / "cache")
    other = tmp_path / "other"
    shutil.copytree(made, other)
    factory = (other / "pyodide.asm.mjs").read_text(encoding="utf-8")
    table_start = re.search(r'"tableStart":(\d+)', factory)
    (other / "pyodide.asm.mjs").write_text(factory.replace(table_start.group(0), '"tableStart":1'), encoding="utf-8")
    report = compare_links(other)
    assert report["linkedFromLayout"] == [False, False, False]
    assert report["differences"] == [] and report["tableSlots"] > 10_000


def test_the_layout_is_the_linkers_and_an_unexpected_module_gets_none(tmp_path):
    wasm = (PINNED / "pyodide.asm.wasm").read_bytes()
    factory = (PINNED / "pyodide.asm.mjs").read_text(encoding="utf-8")
    layout = pyodide_prelink.prelink_layout(wasm, factory)
    assert layout.export_count == len(layout.values) > 8_000
    assert sorted(set(layout.appended)) == layout.appended  # in the exports' order, each once
    slots = [layout.values[position] for position in layout.appended]
    assert slots == list(range(layout.table_start, layout.table_start + len(slots)))
    with pytest.raises(pyodide_prelink.PrelinkError):
        pyodide_prelink.prelink_layout(b"not wasm", factory)
    with pytest.raises(pyodide_prelink.PrelinkError):
        pyodide_prelink.prelink_layout(wasm, "var isInternalSym=()=>false;")
    header, table = b"\0asm\x01\0\0\0", bytes([4, 4, 1, 0x70, 0, 2])  # one table of 2 functions
    assert pyodide_prelink.prelink_layout(header + table, factory).export_count == 0
    with pytest.raises(pyodide_prelink.PrelinkError, match="element segment"):  # a passive one
        pyodide_prelink.prelink_layout(header + table + bytes([9, 4, 1, 1, 0, 0]), factory)
    unread = tmp_path / "pyodide.asm.wasm"
    unread.write_bytes(b"\0asm\x01\0\0\0")  # no table: nothing to lay out
    patched = patch_source(factory)
    assert pyodide_fastboot.with_layout(patched, unread, factory) == patched
    assert pyodide_fastboot.PRELINK_PLACEHOLDER in patched
