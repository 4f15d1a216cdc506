"""`python -m wasm_agent run` and `demo` on CPython, run the way a user runs them: the steps are
printed, the model's code runs in the Deno sandbox, Ctrl+C stops a run and says how it ended."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cpython_only

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-cli-41d2"
KEY_ENV = "WASM_AGENT_TEST_CLI_KEY"


def wasm_agent(*args, key=KEY):
    return subprocess.run([sys.executable, "-m", "wasm_agent", *args], cwd=REPO, env={**os.environ, KEY_ENV: key},
                          capture_output=True, text=True, timeout=180)


def test_demo_runs_a_scripted_task_through_the_sandbox():
    result = wasm_agent("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Final answer: 328" in result.stdout and "(success;" in result.stdout


def test_run_against_a_provider_prints_the_steps_and_the_answer():
    from providers.mock import MockProviderServer

    with MockProviderServer(api_key=KEY) as provider:
        provider.script("Thought: a square.\n<code>\nside = 7\nprint('area', side * side)\n</code>",
                        "Thought: done.\n<code>\nfinal_answer(side * side)\n</code>")
        result = wasm_agent("run", "Area of a 7 m square?", "--model", "m", "--api-base", provider.openai_base,
                            "--api-key-env", KEY_ENV)
        authorizations = {request.headers["authorization"] for request in provider.requests}
    assert result.returncode == 0, result.stdout + result.stderr
    assert "area 49" in result.stdout and "Final answer: 49" in result.stdout
    assert authorizations == {f"Bearer {KEY}"} and KEY not in result.stdout + result.stderr


def test_run_without_a_key_says_which_variable_to_set():
    result = wasm_agent("run", "task", "--model", "m", "--api-key-env", "WASM_AGENT_TEST_CLI_UNSET")
    assert result.returncode != 0
    assert "WASM_AGENT_TEST_CLI_UNSET" in result.stderr


def test_ctrl_c_stops_the_step_under_way_and_the_run_ends_interrupted():
    from terminal import ctrl_c_during_endless_step

    code, out, err = ctrl_c_during_endless_step(
        ["run", "Count forever", "--model", "m", "--api-base", "{api_base}", "--api-key-env", KEY_ENV],
        KEY, {KEY_ENV: KEY})
    assert code == 1, out + err
    assert "Interrupting the run" in err and "(interrupted;" in out
    assert "Traceback" not in err
