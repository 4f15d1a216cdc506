"""The provider models through the real `fetch` transport: Pyodide under Node and Deno, against the loopback mock.

CPython starts the mock server and a Node or Deno process running Pyodide
with the repo's sources (tests/providers/run_in_pyodide.mjs), which runs
tests/providers/fetch_scenarios.py and reports what happened as JSON.
Their fetch is not a browser's (no CORS), but AbortController,
ReadableStream and the Pyodide side are the same code path. Deno runs with
read access to the repo and network access to loopback only.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.cpython_only

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "tests" / "providers"


def _runtime_command(runtime: str) -> list[str] | None:
    if runtime == "node":
        node = shutil.which("node")
        return [node] if node else None
    try:
        import deno
    except ImportError:
        return None
    return [deno.find_deno_bin(), "run", "--no-prompt", f"--allow-read={REPO}", "--allow-net=127.0.0.1"]


@pytest.fixture(scope="module", params=["node", "deno"])
def results(request):
    command = _runtime_command(request.param)
    if command is None or not (REPO / "node_modules" / "pyodide").is_dir():
        pytest.skip(f"needs {request.param} and the pyodide npm package (npm ci)")
    from providers.mock import MockProviderServer

    with MockProviderServer() as server:
        run = subprocess.run([*command, str(HERE / "run_in_pyodide.mjs"), str(HERE / "fetch_scenarios.py"), server.url],
                             cwd=REPO, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "DENO_NO_UPDATE_CHECK": "1"})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_pyodide_picks_the_fetch_transport(results):
    assert results["transport"] == "FetchTransport"


@pytest.mark.parametrize("name", ["OpenAIModel", "AnthropicModel", "GeminiModel"])
def test_each_provider_answers_and_streams_through_fetch(results, name):
    outcome = results[name]
    assert (outcome["text"], outcome["tokens"]) == ("Hi there.", 9)
    assert outcome["deltas"] > 2 and outcome["stream_text"] == "one two three"
    assert outcome["call"] == ["add", {"a": 1}]


def test_retry_after_is_read_from_fetch_headers(results):
    assert results["retry_after"] == ["after the wait", [4.0]]


def test_abort_controller_enforces_the_timeout(results):
    assert "after 2 attempts" in results["timeout"] and "within 0.3 s" in results["timeout"]
    assert "stream broke after part of the answer" in results["stall"]


def test_cut_streams_and_bodies_are_retried(results):
    assert results["cut_early"] == "kept"
    assert results["truncated_json"] == "whole"


def test_an_unreachable_server_mentions_cors_and_what_the_provider_needs(results):
    assert "CORS" in results["refused"] and "OLLAMA_ORIGINS" in results["refused"]


def test_closing_a_stream_early_does_not_wait_for_the_server(results):
    assert results["close_seconds"] is not None and results["close_seconds"] < 1
