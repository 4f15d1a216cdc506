"""Fixtures for the browser tests: one Chromium, loopback sites with and without
COOP/COEP, a canary server, and one booted sandbox page per mode.

    python -m pytest tests/e2e
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import (
    REPO,
    Canary,
    StaticSite,
    build_wheel,
    launch_chromium,
    make_snapshot,
    sandbox_site_mounts,
)
from site_pages import KEY, MockProviderServer, SiteServer, build_site

MODES = ["isolated", "plain"]  # with COOP/COEP (Atomics, interrupt buffer) / without (JSPI, restart)


def pytest_collection_modifyitems(config, items):
    if not (REPO / "node_modules" / "pyodide" / "pyodide.asm.wasm").exists():
        skip = pytest.mark.skip(reason="run `npm ci` first: node_modules/pyodide is missing")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def wheel() -> Path:
    return build_wheel()


@pytest.fixture(scope="session")
def snapshot() -> Path | None:
    """A memory snapshot of the sandbox made by Deno, or None without Deno (boots are cold then)."""
    return make_snapshot()


@pytest.fixture(scope="session")
def sites(wheel, snapshot):
    built = {mode: StaticSite(sandbox_site_mounts(wheel, snapshot), isolated=mode == "isolated") for mode in MODES}
    yield built
    for site in built.values():
        site.close()


@pytest.fixture(scope="session")
def canary():
    server = Canary()
    yield server
    server.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


class SandboxPage:
    """A page of the test site with a booted sandbox; `run` executes code in it."""

    def __init__(self, page, site: StaticSite, wheel: Path, snapshot: Path | None = None, **options):
        self.page = page
        self.site = site
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.goto(f"{site.url}/test/sandbox.html")
        page.wait_for_function("window.sandboxTest !== undefined")
        if snapshot is not None:
            options["snapshot"] = f"/snapshot/{snapshot.name}"
        self.info = page.evaluate("(options) => sandboxTest.start(options)", {"wheel": f"/wheels/{wheel.name}", **options})

    def run(self, code: str, timeout_ms: int | None = 5000) -> dict:
        return self.page.evaluate("([code, timeoutMs]) => sandboxTest.run(code, {timeoutMs})", [code, timeout_ms])

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def events(self, kind: str | None = None) -> list[dict]:
        events = self.page.evaluate("sandboxTest.events")
        return [event for event in events if kind is None or event.get("type") == kind]


def open_sandbox_page(browser, site, wheel, snapshot=None, **options) -> SandboxPage:
    context = browser.new_context()
    return SandboxPage(context.new_page(), site, wheel, snapshot, **options)


@pytest.fixture(scope="session", params=MODES)
def sandbox(request, browser, sites, wheel, snapshot) -> SandboxPage:
    """One booted sandbox per mode (from the snapshot when there is one), shared by the tests;
    they leave it working."""
    page = open_sandbox_page(browser, sites[request.param], wheel, snapshot)
    page.mode = request.param
    yield page
    page.page.context.close()


# The built site (dist/), served with and without COOP/COEP, and its loopback provider.
@pytest.fixture(scope="session")
def site_dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "dist"
    build_site(out, log=lambda *_: None)
    return out


@pytest.fixture(scope="session")
def site_servers(site_dist):
    servers = {mode: SiteServer(site_dist, port=0, isolated=mode == "isolated").start() for mode in MODES}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture(scope="session")
def mock():
    with MockProviderServer(api_key=KEY) as server:
        yield server
