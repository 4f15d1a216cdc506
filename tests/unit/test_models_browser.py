"""The provider models in Chromium: Pyodide with the browser's fetch, CORS and all.

The page (tests/providers/browser_check.html) is served from one loopback
origin, the mock provider from another, so every request is cross-origin:
preflights, exposed headers and refusals are the browser's own. It runs the
same scenarios as test_models_fetch.py, plus a provider that sends no CORS
headers. Skipped without Playwright and a Chromium on PATH.
"""

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.cpython_only

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]


class _StaticHandler(SimpleHTTPRequestHandler):
    """The repo's files, and /_manifest.json: the wasm_agent sources the page copies into Pyodide."""

    def do_GET(self):
        if self.path == "/_manifest.json":
            files = sorted(str(p.relative_to(REPO)) for p in (REPO / "wasm_agent").rglob("*")
                           if p.is_file() and p.suffix in (".py", ".toml", ".json") and "__pycache__" not in p.parts)
            body = json.dumps(files).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def results():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    sync_api = pytest.importorskip("playwright.sync_api")
    if chromium is None or not (REPO / "node_modules" / "pyodide").is_dir():
        pytest.skip("needs chromium on PATH and the pyodide npm package (npm ci)")
    from providers.mock import MockProviderServer

    static = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_StaticHandler, directory=str(REPO)))
    static.daemon_threads = True
    threading.Thread(target=static.serve_forever, daemon=True).start()
    try:
        with MockProviderServer() as mock, MockProviderServer(cors=False) as closed, \
                sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page()
                origin = f"http://127.0.0.1:{static.server_address[1]}"
                page.goto(f"{origin}/tests/providers/browser_check.html?mock={mock.url}&nocors={closed.url}")
                page.wait_for_function("window.result || window.failure", timeout=120_000)
                failure = page.evaluate("window.failure")
                assert failure is None, failure
                return json.loads(page.evaluate("window.result"))
            finally:
                browser.close()
    finally:
        static.shutdown()
        static.server_close()


def test_the_browser_uses_the_fetch_transport(results):
    assert results["transport"] == "FetchTransport"


@pytest.mark.parametrize("name", ["OpenAIModel", "AnthropicModel", "GeminiModel"])
def test_each_provider_answers_and_streams_across_origins(results, name):
    outcome = results[name]
    key_header = {"OpenAIModel": "authorization", "AnthropicModel": "x-api-key", "GeminiModel": "x-goog-api-key"}
    assert key_header[name] in outcome["preflight"]  # the browser asked, the mock allowed it
    assert (outcome["text"], outcome["tokens"]) == ("Hi there.", 9)
    assert outcome["deltas"] > 2 and outcome["stream_text"] == "one two three"
    assert outcome["call"] == ["add", {"a": 1}]


def test_retry_after_is_readable_when_the_provider_exposes_it(results):
    assert results["retry_after"] == ["after the wait", [4.0]]


def test_timeouts_cuts_and_early_close_behave_as_on_cpython(results):
    assert "within 0.3 s" in results["timeout"] and "stream broke" in results["stall"]
    assert (results["cut_early"], results["truncated_json"]) == ("kept", "whole")
    assert results["close_seconds"] < 1


def test_a_provider_without_cors_headers_gets_an_error_that_names_cors(results):
    message = results["no_cors"]
    assert "CORS" in message and "OLLAMA_ORIGINS" in message
