"""A site built from agent.toml (`wasm-agent build --config`, as a site owner runs it), served under a sub-path like a project page on a
static host (/sub/, no COOP/COEP), in Chromium against the loopback mock provider.

What a visitor sees: the owner's title, intro and examples; the site opens on the owner's agent
(provider, model and base URL preset: no settings to fill in); a task calls the owner's Python tool
and JS tool; an authorized package comes from the owner's package distribution (a loopback mirror),
checked against the pinned lock, and a tampered one is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from site_pages import MockProviderServer, SitePage, SiteServer, screenshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from package_mirror import MirrorServer, make_mirror  # noqa: E402
from wheel_factory import make_wheel  # noqa: E402

BASE = "/sub/"
PYTHON_TOOL = '''
@tool
def double_it(x: int) -> int:
    """Twice a number.

    Args:
        x: the number
    """
    return 2 * x
'''
JS_TOOL = '''export default [{
  name: "greet", description: "A greeting from the page.", outputType: "string",
  inputs: { name: { type: "string", description: "who" } },
  fn: ({ name }) => `hello ${name} from ${document.title}`,
}];
'''
STEP = """Thought: I use both tools and the package.
<code>
import wa_fast, wa_local
print(double_it(x=21), greet(name="Ada"), wa_fast.go(), wa_local.LOCAL)
</code>"""
FINAL = 'Thought: done.\n<code>\nfinal_answer(f"{double_it(x=2)} and {greet(name=\'Bo\')}")\n</code>'


@pytest.fixture(scope="module")
def mock():
    with MockProviderServer() as server:
        yield server


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    folder, lock = make_mirror(tmp_path_factory.mktemp("mirror"))
    server = MirrorServer(folder)
    server.folder, server.lock = folder, lock
    yield server
    server.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, mock, mirror):
    owner = tmp_path_factory.mktemp("owner")
    make_wheel(owner, "wa-local", files={"wa_local.py": "LOCAL = 'local'\n"})  # an extra wheel of the site
    (owner / "double.py").write_text(PYTHON_TOOL)
    (owner / "greet.js").write_text(JS_TOOL)
    (owner / "agent.toml").write_text(f'''title = "Number desk"
intro = "Doubles numbers and greets people."
examples = [{{ label = "Both tools", task = "Double 21 and greet Ada" }}, "Just say hi"]
base_path = "{BASE}"

[agent]
instructions = "Always greet politely."
max_steps = 5
python_tools = ["double.py"]
js_tools = "greet.js"
wheels = ["wa_local-1.0-py3-none-any.whl"]
authorized_imports = ["wa_fast", "wa_local"]

[model]
provider = "openai"
model = "mock-coder"
base_url = "{mock.openai_base}"
''')
    out = tmp_path_factory.mktemp("site") / "dist"
    built = subprocess.run([sys.executable, "-m", "wasm_agent", "build", "--config", str(owner / "agent.toml"),
                            "--out", str(out), "--packages-url", mirror.url, "--packages-lock", str(mirror.lock)],
                           cwd=owner, capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stdout + built.stderr
    site = SiteServer(out, port=0, isolated=False, base_path=BASE).start()
    yield site
    site.close()


@pytest.fixture(autouse=True)
def fresh(mock):
    mock.reset()


def test_the_site_opens_on_the_owners_agent_and_a_task_calls_both_tools(browser, server, mock, mirror):
    page = SitePage(browser, server.url).open(BASE)
    try:
        ui = page.page
        assert ui.title() == "Number desk" and ui.text_content("#welcome h1") == "Number desk"
        assert ui.text_content("#welcome p") == "Doubles numbers and greets people."
        assert ui.locator(".example").all_text_contents() == ["Both toolsDouble 21 and greet Ada", "Just say hi"]
        assert ui.text_content("#composer-hint") == "OpenAI-compatible · mock-coder · code agent"
        mock.script(STEP, FINAL)
        ui.click(".example >> nth=0")
        assert ui.input_value("#task") == "Double 21 and greet Ada"
        page.turns = 0
        ui.click("#run")  # no settings filled in: the owner's provider, model and base URL are preset
        page.wait_idle()
        turn = page.last_turn()
        assert "42 hello Ada from Number desk 42 local" in turn.locator(".observation-text").first.text_content()
        assert turn.locator(".final-text").text_content() == "4 and hello Bo from Number desk"
        posts = [r for r in mock.requests if r.method == "POST"]
        assert len(posts) == 2 and all(r.json["model"] == "mock-coder" for r in posts)
        system = json.dumps(posts[0].json["messages"][0])
        assert "Always greet politely." in system and "double_it" in system and "greet" in system
        assert sorted(set(mirror.requests)) == ["/wa_base-1.0-py3-none-any.whl",
                                                "/wa_fast-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"]
        cached = ui.evaluate("caches.open('pyodide-packages').then((c) => c.keys()).then((k) => k.length)")
        assert cached == 2  # the next visit takes them from Cache Storage
        screenshot(ui, "configured-site")
        assert page.errors == []
    finally:
        page.close()


def test_the_settings_offer_the_registrys_providers(browser, server):
    from wasm_agent.providers import PROVIDERS

    page = SitePage(browser, server.url).open(BASE)
    try:
        labels = page.page.locator("#providers label").all_text_contents()
        assert [label.strip() for label in labels] == [info.label for info in PROVIDERS.values()]
    finally:
        page.close()


def test_the_site_lives_under_its_base_path_only(browser, server):
    page = SitePage(browser, server.url).open(BASE)
    try:
        page.page.click("#open-settings")
        page.page.click("#settings button[type=submit]")
        keys = page.page.evaluate("Object.keys(localStorage)")
        assert f"{BASE}:wasm-agent:settings" in keys  # another site on this origin keeps its own
        version = json.loads((server.root / "build.json").read_text())["version"]
        assert page.page.evaluate("caches.keys()") == [f"wasm-agent-{BASE}{version}"]  # and its own offline cache
    finally:
        page.close()
    assert server.requests and all(path.startswith(BASE) for path in server.requests)


def test_a_tampered_package_is_refused_with_a_clear_message(browser, server, mock, mirror):
    wheel = mirror.folder / "wa_base-1.0-py3-none-any.whl"
    original = wheel.read_bytes()
    wheel.write_bytes(b"PK tampered")
    page = SitePage(browser, server.url).open(BASE)  # a new context: an empty Cache Storage
    try:
        page.turns = 0
        page.page.fill("#task", "Anything")
        page.page.click("#run")
        error = page.page.locator(".notice-error").first
        error.wait_for(timeout=60_000)
        assert "wa_base-1.0-py3-none-any.whl does not match the lock file's sha256" in error.text_content()
        assert "refused" in error.text_content()
        assert [r for r in mock.requests if r.method == "POST"] == []  # the agent was never made
    finally:
        wheel.write_bytes(original)
        page.close()
