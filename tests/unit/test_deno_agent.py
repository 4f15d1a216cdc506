"""The agent in Deno (deno/agent.js), run the way a user runs it, against the loopback mock provider.

Each run is `python -m wasm_agent deno …`: it builds the site (into a temporary folder here) when
it is stale, composes the least-permission `deno run` command and starts it. The model's replies
are scripted in the mock (OpenAI-compatible, streaming); the code they hold runs in the
permissionless sandbox worker.
"""

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from wasm_agent.deno_agent import RunnerSetupError, agent_command

pytestmark = pytest.mark.cpython_only

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-deno-agent-5c1e"
KEY_ENV = "WASM_AGENT_TEST_KEY"
TOOLS = REPO / "web" / "demo_tools.py"  # describe_numbers(numbers) -> {count, mean, median, …}
# A tool runs in the agent's own Pyodide, in the isolate that holds the key and the network.
EVAL_TOOL = '''
@tool
def try_javascript() -> str:
    """Evaluates JavaScript from a string in the agent's isolate."""
    import js
    try:
        return f"ALLOWED {js.eval('6 * 7')}"
    except Exception as error:
        return f"blocked: {error}"
'''

# Step 2 of the scripted run: generated code tries its ways out. A worker spawned from the sandbox
# would have `Deno` again (without permissions): there is no `Worker` to spawn one, and no eval or
# Function constructor to write JavaScript with (the process runs without code generation from strings).
ESCAPES = '''
import js, os
from pyodide.ffi import run_sync

def in_worker(body):
    if hasattr(js, "Worker"):
        return "ALLOWED: a Worker to start"
    return "blocked: no Worker"

for name, attempt in [("eval", lambda: js.eval("1 + 1")), ("Function", lambda: js.Function.new("return 1")())]:
    try:
        print(f"sandbox {name}: ALLOWED", attempt())
    except Exception as error:
        print(f"sandbox {name}: blocked:", error)
print("agent eval:", try_javascript())
try:
    run_sync(js.fetch(@PROVIDER@))
    print("fetch provider: ALLOWED")
except Exception as error:
    print("fetch provider: blocked:", error)
print("worker fetch provider:", in_worker("return (await fetch(@PROVIDER@)).status"))
print("worker fetch other:", in_worker("return (await fetch(@OTHER@)).status"))
print("worker read:", in_worker("return Deno.readTextFileSync(@TOOLS@)"))
print("worker env:", in_worker("return Deno.env.get(@KEY_ENV@)"))
print("worker command:", in_worker("return new Deno.Command('id').outputSync().code"))
print("worker Deno.run:", in_worker("return Deno.run({cmd: ['id']})"))
print("python env:", os.environ.get(@KEY_ENV@))
try:
    open(@TOOLS@).read()
    print("python read: ALLOWED")
except OSError as error:
    print("python read: blocked:", type(error).__name__)
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return tmp_path_factory.mktemp("deno-agent") / "dist"  # built by the first run


def wasm_agent_deno(site, *args, key=KEY):
    env = {**os.environ, KEY_ENV: key}
    env.pop("WASM_AGENT_TEST_MISSING", None)
    return subprocess.run([sys.executable, "-m", "wasm_agent", "deno", *args, "--site", str(site)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def run(site, tmp_path_factory):
    from providers.mock import MockProviderServer

    eval_tool = tmp_path_factory.mktemp("tools") / "eval_tool.py"
    eval_tool.write_text(EVAL_TOOL)

    with MockProviderServer(api_key=KEY) as provider, MockProviderServer() as other:
        escapes = (ESCAPES.replace("@PROVIDER@", repr(provider.url + "/v1/models"))
                   .replace("@OTHER@", repr(other.url + "/v1/models")).replace("@TOOLS@", repr(str(TOOLS)))
                   .replace("@KEY_ENV@", repr(KEY_ENV)))
        provider.script(
            "Thought: the statistics first.\n<code>\nstats = describe_numbers([1, 2, 3, 4])\n"
            "print('mean is', stats['mean'])\n</code>",
            f"Thought: now I look around.\n<code>{escapes}</code>",
            "Thought: the median is still known.\n<code>\nfinal_answer(stats['median'] * 10)\n</code>",
        )
        result = wasm_agent_deno(site, "Describe 1, 2, 3 and 4", "--model", "mock-coder",
                                 "--api-base", provider.openai_base, "--key-env", KEY_ENV, "--tools", str(TOOLS),
                                 "--tools", str(eval_tool), "--verbose")
        yield result, list(provider.requests), list(other.requests)


def test_a_run_calls_a_tool_keeps_state_across_steps_and_prints_the_answer(run):
    result, requests, _ = run
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "── tool call: describe_numbers({'numbers': [1, 2, 3, 4]}) → {'count': 4, 'mean': 2.5" in out
    assert "mean is 2.5" in out
    assert "Final answer: 25" in out
    assert "── step 3:" in out and "(success;" in out
    assert "Python ready (memory snapshot)" in result.stderr and "Sandbox ready (memory snapshot" in result.stderr
    assert [(r.method, r.path, r.json["stream"]) for r in requests] == [("POST", "/v1/chat/completions", True)] * 3


def test_the_key_reaches_the_provider_as_the_authorization_header_and_is_never_printed(run):
    result, requests, _ = run
    assert {r.headers["authorization"] for r in requests} == {f"Bearer {KEY}"}
    assert KEY not in result.stdout and KEY not in result.stderr
    command = next(line for line in result.stderr.splitlines() if "deno/agent.js" in line)
    assert f"--allow-env={KEY_ENV}" in command.split() and f"--key-env {KEY_ENV}" in command


def test_generated_code_cannot_reach_the_network_files_env_or_processes(run):
    result, requests, other_requests = run
    out = result.stdout
    assert not [line for line in out.splitlines() if re.match(r"(fetch|worker|python|sandbox|agent) [^:]*: ALLOWED", line)]
    assert "fetch provider: blocked: TypeError: the sandbox has no network" in out
    for attempt in ("worker fetch provider", "worker fetch other", "worker read", "worker env", "worker command",
                    "worker Deno.run"):
        assert f"{attempt}: blocked: no Worker" in out
    assert "python env: None" in out and "python read: blocked: FileNotFoundError" in out
    assert len(requests) == 3 and other_requests == []  # only the model's calls reached a server
    assert "Final answer: 25" in out  # and the run went on


def test_no_isolate_of_the_agent_in_deno_can_generate_code_from_strings(run):
    """The agent's process runs with V8's --disallow-code-generation-from-strings: eval and Function fail in the
    sandbox worker and in the agent's own isolate (where tools run), and the run still ends with its answer."""
    result, _, _ = run
    command = next(line for line in result.stderr.splitlines() if "deno/agent.js" in line).split()
    assert "--v8-flags=--disallow-code-generation-from-strings" in command
    out = result.stdout
    for attempt in ("sandbox eval", "sandbox Function"):
        assert re.search(rf"^{attempt}: blocked: .*Code generation from strings disallowed", out, re.MULTILINE), out
    assert re.search(r"^agent eval: blocked: .*Code generation from strings disallowed", out, re.MULTILINE), out
    assert "Final answer: 25" in out


def test_a_key_variable_name_that_is_not_one_is_refused_before_deno_starts(site):
    result = wasm_agent_deno(site, "task", "--model", "m", "--key-env", "KEY,HOME")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --key-env 'KEY,HOME' is not an environment variable name"


def test_a_missing_key_variable_is_one_line_and_exit_2(site):
    result = wasm_agent_deno(site, "task", "--model", "m", "--key-env", "WASM_AGENT_TEST_MISSING")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == \
        "error: the environment variable WASM_AGENT_TEST_MISSING (--key-env) is not set or empty"
    assert "Starting" not in result.stderr  # refused before Pyodide loads


def test_a_wrong_key_gets_the_providers_401_in_one_line_and_a_failing_exit(site):
    from providers.mock import MockProviderServer

    with MockProviderServer(api_key=KEY) as provider:
        result = wasm_agent_deno(site, "task", "--model", "m", "--api-base", provider.openai_base,
                                 "--key-env", KEY_ENV, key="sk-wrong")
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if "401" in line]
    assert len(errors) == 1 and errors[0].startswith("The run stopped:")
    assert f"Check the API key (the {KEY_ENV} environment variable, named by --key-env)" in errors[0]
    assert "sk-wrong" not in result.stdout + result.stderr


def test_deno_run_directly_without_net_permission_for_the_server_says_which_flag(site):
    from wasm_agent.executor.sandbox import find_deno

    command = agent_command(find_deno(), site, "task", provider="openai", model="m",
                            api_base="http://127.0.0.1:9/v1", key_env=KEY_ENV)
    command[command.index("--allow-net=127.0.0.1:9")] = "--allow-net=127.0.0.1:8"
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**os.environ, KEY_ENV: KEY, "DENO_NO_UPDATE_CHECK": "1"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == \
        "error: Deno may not connect to 127.0.0.1:9 (the model's server): start it with --allow-net=127.0.0.1:9"


def test_the_deno_command_has_the_least_permissions_that_work(tmp_path):
    command = agent_command("deno", tmp_path, "a task", provider="openai", model="m",
                            api_base="http://127.0.0.1:8123/v1", key_env="MY_KEY", tools=(TOOLS,))
    flags = [part for part in command[:command.index(str(REPO / "deno" / "agent.js"))] if part.startswith("--")]
    reads = [str(tmp_path / name) for name in ("pyodide", "build.json", "providers.json", "agent.snapshot", "sandbox.snapshot")]
    assert flags == [
        "--quiet", "--no-prompt", "--no-config", "--no-lock", "--no-remote", "--unstable-worker-options",
        "--v8-flags=--disallow-code-generation-from-strings",
        f"--allow-read={','.join([*reads, str(REPO / 'deno'), str(REPO / 'web'), str(TOOLS)])}",
        "--allow-net=127.0.0.1:8123", "--allow-env=MY_KEY",
        "--deny-write", "--deny-run", "--deny-ffi", "--deny-sys", "--deny-import",
    ]
    assert command[-2:] == ["--", "a task"]  # a task that starts with "--" stays the task


@pytest.mark.parametrize("provider, host", [("openai", "api.openai.com:443"), ("anthropic", "api.anthropic.com:443"),
                                            ("gemini", "generativelanguage.googleapis.com:443")])
def test_without_a_base_url_deno_may_reach_only_the_providers_host(tmp_path, provider, host):
    command = agent_command("deno", tmp_path, "t", provider=provider, model="m")
    assert [part for part in command if part.startswith("--allow-net")] == [f"--allow-net={host}"]
    assert not any(part.startswith("--allow-env") for part in command)  # no key variable named: none readable


@pytest.mark.parametrize("name", ["KEY,HOME", "", "A B", "1KEY", "KEY=x"])
def test_only_plain_variable_names_become_env_permissions(tmp_path, name):
    with pytest.raises(RunnerSetupError, match="not an environment variable name"):
        agent_command("deno", tmp_path, "t", provider="openai", model="m", key_env=name)


def test_generated_code_imports_a_package_that_needs_another_from_the_sites_wheels(site, tmp_path):
    from providers.mock import MockProviderServer
    from wheel_factory import make_wheel

    wanted = make_wheel(tmp_path, "pkg-total", requires=["pkg-base"],
                        files={"pkg_total/__init__.py": "import pkg_base\n\ndef total():\n    return pkg_base.VALUE + 1\n"})
    needed = make_wheel(tmp_path, "pkg-base", files={"pkg_base/__init__.py": "VALUE = 41\n"})
    with MockProviderServer(api_key=KEY) as provider:
        provider.script("Thought: the package knows.\n<code>\nimport pkg_total\nfinal_answer(pkg_total.total())\n</code>")
        result = wasm_agent_deno(site, "Ask the package", "--model", "m", "--api-base", provider.openai_base,
                                 "--key-env", KEY_ENV, "--wheel", str(wanted), "--wheel", str(needed),
                                 "--imports", "pkg_total")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Installing pkg_total in the sandbox" in result.stderr
    assert "Final answer: 42" in result.stdout
    # The site remembers its packages: a rebuild because the sources changed keeps them.
    from wasm_agent import cli

    built = []
    stale_site = types.SimpleNamespace(BuildError=Exception, is_current=lambda out, **_: False,
                                       built_packages=cli._site_module("site").built_packages,
                                       build_site=lambda out, **options: built.append(options))
    assert cli._ensure_site(stale_site, site, log=lambda *_: None)
    assert built[0]["extra_wheels"] == (str(wanted), str(needed))
    assert cli._ensure_site(stale_site, site, rebuild=True, log=lambda *_: None)  # an explicit build: as asked
    assert "extra_wheels" not in built[1]


def test_an_import_no_wheel_provides_is_refused_before_the_run(site):
    result = wasm_agent_deno(site, "task", "--model", "m", "--api-base", "http://127.0.0.1:9/v1",
                             "--key-env", KEY_ENV, "--imports", "no_such_module")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: no_such_module: no wheel in this site provides it")


def test_a_tool_calling_agent_runs_with_native_tool_calls(site):
    from providers.mock import MockProviderServer

    with MockProviderServer(api_key=KEY) as provider:
        provider.script({"tool_calls": [{"id": "c1", "name": "describe_numbers", "arguments": {"numbers": [2, 4]}}]},
                        {"tool_calls": [{"id": "c2", "name": "final_answer", "arguments": {"answer": "mean 3"}}]})
        result = wasm_agent_deno(site, "Describe 2 and 4", "--model", "m", "--api-base", provider.openai_base,
                                 "--key-env", KEY_ENV, "--tools", str(TOOLS), "--agent-type", "toolcalling")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "── tool call: describe_numbers" in result.stdout and "Final answer: mean 3" in result.stdout
    assert "sandbox" not in result.stderr.lower()  # no code runs: no sandbox was started


def test_ctrl_c_stops_the_step_under_way_and_the_run_ends_interrupted(site):
    from terminal import ctrl_c_during_endless_step

    code, out, err = ctrl_c_during_endless_step(
        ["deno", "Count forever", "--model", "m", "--api-base", "{api_base}", "--key-env", KEY_ENV,
         "--site", str(site), "--timeout", "120"], KEY, {KEY_ENV: KEY})
    assert code == 1, out + err
    assert "Interrupting the run" in err
    assert "(interrupted;" in out


def test_a_site_folder_that_is_not_a_built_site_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = subprocess.run([sys.executable, "-m", "wasm_agent", "deno", "task", "--model", "m", "--api-base",
                             "http://127.0.0.1:9/v1", "--site", str(tmp_path)], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert "is not a site built by wasm-agent" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_timeout_is_the_wall_time_of_a_code_step(site):
    from providers.mock import MockProviderServer

    with MockProviderServer(api_key=KEY) as provider:
        provider.script("Thought: wait.\n<code>\nimport time\ntime.sleep(3)\nprint('slept')\n</code>",
                        "Thought: done.\n<code>\nfinal_answer('ok')\n</code>")
        result = wasm_agent_deno(site, "Wait a little", "--model", "m", "--api-base", provider.openai_base,
                                 "--key-env", KEY_ENV, "--timeout", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 s time limit" in result.stdout and "\nslept\n" not in result.stdout  # stopped at 1 s, not 30
    assert "Final answer: ok" in result.stdout


def test_the_runner_takes_its_providers_from_the_sites_registry(run, site):
    from wasm_agent.executor.sandbox import find_deno
    from wasm_agent.providers import REMOTE_PROVIDERS

    command = agent_command(find_deno(), site, "task", provider="openai", model="m", api_base="http://127.0.0.1:9/v1")
    command[command.index("--provider") + 1] = "openia"
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DENO_NO_UPDATE_CHECK": "1"})
    assert result.returncode == 2
    assert f"error: --provider must be one of {', '.join(REMOTE_PROVIDERS)}" in result.stderr


def test_the_agent_in_deno_calls_the_tools_of_an_mcp_server(site):
    pytest.importorskip("mcp", reason="the test extra installs the MCP SDK: pip install -e '.[test]'")
    from providers.mcp_process import mcp_server
    from providers.mock import MockProviderServer

    with MockProviderServer(api_key=KEY) as provider, mcp_server() as (url, _):
        provider.script("Thought: the server adds.\n<code>\nw = weather(city='Lyon')\n"
                        "final_answer(f\"{add(a=20, b=22)} {w['sky']}\")\n</code>")
        result = wasm_agent_deno(site, "Add", "--model", "m", "--api-base", provider.openai_base,
                                 "--key-env", KEY_ENV, "--mcp", url, "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "── tool call: add({'a': 20, 'b': 22}) → 42" in result.stdout
    assert "Final answer: 42 clear" in result.stdout
    command = next(line for line in result.stderr.splitlines() if "deno/agent.js" in line)
    port = url.split(":")[2].split("/")[0]
    assert f"127.0.0.1:{port}" in next(arg for arg in command.split() if arg.startswith("--allow-net="))


def test_an_mcp_url_that_is_not_http_is_refused_before_deno_starts(tmp_path):
    with pytest.raises(RunnerSetupError, match="--mcp"):
        agent_command("deno", tmp_path, "task", provider="openai", model="m", api_base="http://127.0.0.1:1/v1",
                      mcp=("file:///etc/passwd",))


def test_a_package_distribution_adds_its_host_or_its_folder_and_the_lock_and_nothing_else(tmp_path):
    from package_mirror import PINNED_LOCK

    lock = tmp_path / "lock.json"
    lock.write_text("{}")
    command = agent_command("deno", tmp_path, "t", provider="openai", model="m", api_base="http://127.0.0.1:8123/v1",
                            packages_url="https://cdn.example/pyodide/v1/full", packages_lock=lock)
    flags = {part.split("=")[0]: part.split("=", 1)[1] for part in command if part.startswith("--allow-")}
    assert flags["--allow-net"] == "127.0.0.1:8123,cdn.example:443"
    assert flags["--allow-read"].split(",")[-1] == str(lock)
    assert command[-6:-2] == ["--packages-url", "https://cdn.example/pyodide/v1/full/", "--packages-lock", str(lock)]
    # A folder (or file URL) is read, not connected to; the default lock is the pinned Pyodide's.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for given in (str(mirror), mirror.as_uri()):
        command = agent_command("deno", tmp_path, "t", provider="openai", model="m",
                                api_base="http://127.0.0.1:8123/v1", packages_url=given)
        flags = {part.split("=")[0]: part.split("=", 1)[1] for part in command if part.startswith("--allow-")}
        assert flags["--allow-net"] == "127.0.0.1:8123"
        assert flags["--allow-read"].split(",")[-2:] == [str(PINNED_LOCK), str(mirror)]
        assert command[-6:-2] == ["--packages-url", mirror.as_uri() + "/", "--packages-lock", str(PINNED_LOCK)]
    for url, error in (("ftp://mirror.example/", "not an http"), (str(tmp_path / "nowhere"), "no such folder")):
        with pytest.raises(RunnerSetupError, match=f"--packages-url .*{error}"):
            agent_command("deno", tmp_path, "t", provider="openai", model="m", packages_url=url)
    with pytest.raises(RunnerSetupError, match="--packages-lock .*no such file"):
        agent_command("deno", tmp_path, "t", provider="openai", model="m", packages_url=str(mirror),
                      packages_lock=tmp_path / "missing.json")


def test_an_import_comes_from_a_package_distribution_checked_then_cached(site, tmp_path):
    from package_mirror import MirrorServer, make_mirror
    from providers.mock import MockProviderServer

    folder, lock = make_mirror(tmp_path)
    step = "Thought: the package knows.\n<code>\nimport wa_fast\nfinal_answer(wa_fast.go())\n</code>"
    mirror = MirrorServer(folder)
    with MockProviderServer(api_key=KEY) as provider:
        provider.script(step, step)
        arguments = ["Ask the package", "--model", "m", "--api-base", provider.openai_base, "--key-env", KEY_ENV,
                     "--imports", "wa_fast", "--packages-url", mirror.url, "--packages-lock", str(lock)]
        try:
            fetched = wasm_agent_deno(site, *arguments)
        finally:
            mirror.close()
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        assert "Final answer: 42" in fetched.stdout
        assert sorted(mirror.requests) == ["/wa_base-1.0-py3-none-any.whl",
                                           "/wa_fast-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"]
        cached = wasm_agent_deno(site, *arguments)  # the mirror is gone: Deno's Cache Storage serves
        assert cached.returncode == 0, cached.stdout + cached.stderr
        assert "Final answer: 42" in cached.stdout
    # The pinned lock decides: a changed file in the distribution is refused before the run.
    (folder / "wa_base-1.0-py3-none-any.whl").write_bytes(b"PK not the pinned file")
    tampered = wasm_agent_deno(site, "task", "--model", "m", "--api-base", "http://127.0.0.1:9/v1",
                               "--key-env", KEY_ENV, "--imports", "wa_fast", "--packages-url", str(folder),
                               "--packages-lock", str(lock))
    assert tampered.returncode == 2
    assert tampered.stderr.strip().splitlines()[-1] == "error: wa_base-1.0-py3-none-any.whl does not match the " \
        "lock file's sha256 (the package distribution's file differs from the one this Pyodide pins: refused)"
    offline = wasm_agent_deno(site, "task", "--model", "m", "--api-base", "http://127.0.0.1:9/v1",
                              "--key-env", KEY_ENV, "--imports", "wa_fast")
    assert offline.returncode == 2 and "wa_fast: no wheel in this site provides it" in offline.stderr


def _child_pid(pid: int) -> int | None:
    """The first child process of `pid` (the Deno that `python -m wasm_agent deno` starts), if any."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            return int(stat.parent.name)
    return None


# Awaits a promise past its time limit, where no interrupt reaches it: its worker is replaced, and ends itself.
AWAITS_LONG = "import asyncio\nasyncio.run(asyncio.sleep(600))"


def test_steps_whose_code_ignores_every_interrupt_leave_no_cpu_behind_and_the_run_goes_on(site):
    """Each stubborn step is stopped at its time limit (its worker's thread is ended: Deno's terminate()
    alone leaves it spinning), the model is told its variables are lost, and the run goes on with no
    thread of those steps spinning: the process idles while the model thinks."""
    import time

    from deno_sandbox import STUBBORN, cpu_seconds
    from providers.mock import MockProviderServer
    from providers.wire import Reply

    stubborn_steps = [*STUBBORN.values(), AWAITS_LONG]
    with MockProviderServer(api_key=KEY) as provider:
        provider.script("Thought: keep x.\n<code>\nx = 1\n</code>",
                        *(f"Thought: work.\n<code>\n{stubborn}\n</code>" for stubborn in stubborn_steps),
                        Reply(text="Thought: x?\n<code>\ntry:\n    x\nexcept NameError:\n    final_answer('x is gone')\n</code>",
                              delay=6))
        command = [sys.executable, "-m", "wasm_agent", "deno", "Work hard", "--model", "m", "--api-base",
                   provider.openai_base, "--key-env", KEY_ENV, "--timeout", "1", "--site", str(site)]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, KEY_ENV: KEY})
        try:
            deadline = time.monotonic() + 240
            while len(provider.requests) < 2 + len(stubborn_steps) and time.monotonic() < deadline:
                time.sleep(0.1)
            deno = _child_pid(process.pid)
            assert deno is not None and len(provider.requests) == 2 + len(stubborn_steps), "the stubborn steps did not end"
            time.sleep(2)  # the last stubborn thread ends at its hard limit: a second past its worker's end
            before = cpu_seconds(deno)
            time.sleep(2)
            idle_cpu = cpu_seconds(deno) - before
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    assert idle_cpu < 0.5, f"{idle_cpu:.2f} s of CPU in 2 s while the agent waited for its model"
    assert process.returncode == 0, out + err
    assert out.count("1 s time limit. The code did not stop when interrupted.") == len(stubborn_steps), out
    assert out.count("all variables were lost") >= len(stubborn_steps)
    assert "Final answer: x is gone" in out
    assert "could not be ended" not in err


AWAITS_THEN_SPINS = """import asyncio
async def spin():
    await asyncio.sleep(0.2)
    while True:
        try:
            while True: pass
        except BaseException:
            pass
asyncio.run(spin())"""


def test_code_that_spins_after_awaiting_ends_the_run_and_nothing_runs_on(site):
    """Python that resumed after awaiting a promise is outside what the worker's limit can end: the run
    ends after that step (here while the model writes the next one) with a message that says so, and the
    process exits, its thread with it."""
    from providers.mock import MockProviderServer
    from providers.wire import Reply

    with MockProviderServer(api_key=KEY) as provider:
        provider.script("Thought: keep x.\n<code>\nx = 1\n</code>",
                        f"Thought: wait, then work.\n<code>\n{AWAITS_THEN_SPINS}\n</code>",
                        Reply(text="Thought: go on.\n<code>\nfinal_answer(x)\n</code>", delay=5))
        result = wasm_agent_deno(site, "Work hard", "--model", "m", "--api-base", provider.openai_base,
                                 "--key-env", KEY_ENV, "--timeout", "1")
        requests = len(provider.requests)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 s time limit. The code did not stop when interrupted." in result.stdout
    assert "Final answer: 1" not in result.stdout and "(interrupted;" in result.stdout
    assert "The step's code could not be ended" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: the run was ended after a step whose code")
    assert requests <= 3  # the model may have been asked for a next step; it was not taken
