"""`packages_url`: packages for generated code from a Pyodide package distribution (the CDN folder or a
mirror), resolved in the pinned lock, fetched by the host with their dependencies, sha256-checked, cached.
The distribution here is a loopback mirror (tests/unit/package_mirror.py)."""

import json

import pytest
from package_mirror import PINNED_LOCK, MirrorServer, make_mirror

from wasm_agent.executor.distribution import distribution_wheels
from wasm_agent.executor.packages import MissingPackageError, wheels_for_imports, with_distribution

pytestmark = pytest.mark.cpython_only  # sockets, Deno


@pytest.fixture
def mirror(tmp_path):
    folder, lock = make_mirror(tmp_path)
    server = MirrorServer(folder)
    server.folder, server.lock, server.cache = folder, lock, tmp_path / "cache"
    yield server
    server.close()


def test_a_package_and_its_dependency_are_fetched_checked_and_cached(mirror):
    wheels = distribution_wheels(["wa_fast"], packages_url=mirror.url, lock=mirror.lock, cache_dir=mirror.cache)
    assert list(wheels) == ["wa_base-1.0-py3-none-any.whl", "wa_fast-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"]
    assert sorted(mirror.requests) == ["/wa_base-1.0-py3-none-any.whl",
                                       "/wa_fast-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"]
    mirror.close()  # offline from now on: the cache serves
    assert distribution_wheels(["wa_fast"], packages_url=mirror.url, lock=mirror.lock, cache_dir=mirror.cache) == wheels


def test_a_tampered_file_is_refused_and_not_cached(mirror):
    (mirror.folder / "wa_base-1.0-py3-none-any.whl").write_bytes(b"PK not the pinned file")
    with pytest.raises(MissingPackageError, match=r"wa_base-1.0-py3-none-any.whl does not match the sha256 that "
                                                  r"the pinned Pyodide's lock lists for wa-base"):
        distribution_wheels(["wa_fast"], packages_url=mirror.url, lock=mirror.lock, cache_dir=mirror.cache)
    assert not list(mirror.cache.rglob("wa_base*"))


def test_the_mirrors_own_lock_is_never_trusted(mirror):
    # A mirror that rewrites its lock to match a changed file changes nothing: the pinned lock decides.
    changed = b"PK changed"
    (mirror.folder / "wa_base-1.0-py3-none-any.whl").write_bytes(changed)
    served = json.loads((mirror.folder / "pyodide-lock.json").read_text())
    served["packages"]["wa-base"]["sha256"] = __import__("hashlib").sha256(changed).hexdigest()
    (mirror.folder / "pyodide-lock.json").write_text(json.dumps(served))
    with pytest.raises(MissingPackageError, match="does not match the sha256"):
        distribution_wheels(["wa_base"], packages_url=mirror.url, lock=mirror.lock, cache_dir=mirror.cache)
    assert "/pyodide-lock.json" not in mirror.requests


def test_a_missing_file_and_an_unknown_module_say_so(mirror):
    (mirror.folder / "wa_base-1.0-py3-none-any.whl").unlink()
    with pytest.raises(MissingPackageError, match=r"cannot fetch .*wa_base-1.0-py3-none-any.whl from the package "
                                                  r"distribution \(.*404"):
        distribution_wheels(["wa_base"], packages_url=mirror.url, lock=mirror.lock, cache_dir=mirror.cache)
    with pytest.raises(MissingPackageError, match="no_such_module: no wheel in the package distribution"):
        distribution_wheels(["no_such_module"], packages_url=mirror.url, lock=mirror.lock, cache_dir=mirror.cache)


def test_numpy_and_pandas_resolve_in_the_pinned_lock_with_their_dependencies():
    pinned = json.loads(PINNED_LOCK.read_text())
    entries = wheels_for_imports(with_distribution({}, pinned), ["pandas"])
    names = [entry["name"] for entry in entries]
    assert names[-1] == "pandas" and "numpy" in names and names.index("numpy") < names.index("pandas")
    numpy = next(entry for entry in entries if entry["name"] == "numpy")
    assert numpy["file_name"] == pinned["packages"]["numpy"]["file_name"] and numpy["origin"] == "distribution"
    assert all(entry["sha256"] == pinned["packages"][entry["name"]]["sha256"] for entry in entries)


def test_the_sites_own_wheels_win_over_the_distributions():
    site = {"packages": {"six": {"name": "six", "file_name": "six-site.whl", "imports": ["six"], "depends": []}}}
    entries = wheels_for_imports(with_distribution(site, json.loads(PINNED_LOCK.read_text())), ["six"])
    assert [(e["file_name"], e["origin"]) for e in entries] == [("six-site.whl", "site")]


async def test_generated_code_imports_a_distribution_package_in_the_deno_sandbox(mirror):
    from deno_sandbox import require_deno_sandbox

    from wasm_agent import CodeAgent, ScriptedModel

    sandbox = require_deno_sandbox()
    model = ScriptedModel(["Thought: the package knows.\n<code>\nimport wa_fast\nfinal_answer(wa_fast.go())\n</code>"])
    agent = CodeAgent([], model, additional_authorized_imports=["wa_fast"],
                      executor_kwargs={"packages_url": mirror.url, "packages_lock": mirror.lock,
                                       "packages_cache": mirror.cache})
    try:
        assert await agent.arun("Ask the package") == 42
    finally:
        await agent.close()
    with pytest.raises(MissingPackageError, match="wa_fast: no wheel"):  # offline by default: nothing fetched
        sandbox.DenoSandboxExecutor(["wa_fast"])
