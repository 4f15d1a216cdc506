"""Helpers for the site's browser tests (tests/e2e/test_site*.py): the built site
served like `python -m wasm_agent serve`, and a page object that drives the UI
the way a person does (settings dialog, task box, Run/Stop) and collects
console errors.

    python -m pytest tests/e2e/test_site.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness import REPO

sys.path.insert(0, str(REPO))
from build.serve import SiteServer
from build.site import build_site
from tests.providers.mock import MockProviderServer

ARTIFACTS = REPO / "tests" / "e2e" / "artifacts"
READY_MS = 240_000  # Pyodide twice + the sandbox on a busy 2-core machine
RUN_MS = 60_000
KEY = "sk-test-key"  # the API key the site's loopback provider (the `mock` fixture) expects

__all__ = ["ARTIFACTS", "KEY", "MockProviderServer", "SitePage", "SiteServer", "build_site", "screenshot"]


def screenshot(page, name: str) -> Path:
    """Save a PNG of the page under tests/e2e/artifacts/ (git-ignored; CI keeps it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


class SitePage:
    """The site's main page in a fresh browser context."""

    def __init__(self, browser, url: str, *, viewport=(1200, 860), color_scheme: str = "light"):
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                           color_scheme=color_scheme)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self._error(message.text))
        self.page.on("pageerror", lambda error: self._error(f"pageerror: {error}"))
        self.url = url

    def _error(self, text: str) -> None:
        self.errors.append(text)

    def open(self, path: str = "/") -> SitePage:
        self.page.goto(self.url + path)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        self.page.wait_for_selector("body[data-ready]", timeout=READY_MS)

    def configure(self, *, base_url: str, model: str, api_key: str = "", provider: str = "openai") -> None:
        page = self.page
        page.click("#open-settings")
        page.check(f"input[name=provider][value={provider}]")
        page.fill("#base-url", base_url)
        page.fill("#model", model)
        page.fill("#api-key", api_key)
        page.click("#settings button[type=submit]")
        page.wait_for_selector("#settings", state="hidden")

    def start(self, task: str) -> None:
        self.turns = self.page.locator(".msg-agent").count()
        self.page.fill("#task", task)
        self.page.click("#run")

    def wait_idle(self) -> None:
        """Wait until the task started last has ended (its turn is no longer busy)."""
        self.page.locator(".msg-agent").nth(self.turns).and_(
            self.page.locator("[aria-busy=false]")).wait_for(timeout=RUN_MS)

    def run(self, task: str) -> None:
        self.start(task)
        self.wait_idle()

    def last_turn(self):
        return self.page.locator(".msg-agent").last

    def close(self) -> None:
        self.context.close()
