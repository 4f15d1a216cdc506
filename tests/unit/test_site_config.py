"""`agent.toml` (build/config.py) and `wasm-agent init`: what a site owner writes, and the errors
they get for a mistake (file, line, key), before anything is built."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cpython_only  # the site build and the CLI run from a checkout

REPO = Path(__file__).resolve().parents[2]

TOOLS = '''
@tool
def shout(text: str) -> str:
    """Upper-case text.

    Args:
        text: what to shout
    """
    return text.upper()
'''


@pytest.fixture
def config():
    from build import config

    return config


def write(folder: Path, text: str, tools: str | None = TOOLS, js: str | None = "export default [];\n") -> Path:
    if tools is not None:
        (folder / "tools.py").write_text(tools)
    if js is not None:
        (folder / "tools.js").write_text(js)
    path = folder / "agent.toml"
    path.write_text(text)
    return path


FULL = '''title = "Shouter"
intro = "It shouts."
examples = ["Shout hello", { label = "Tool", task = "Shout bye" }]
base_path = "/my-repo/"

[agent]
type = "toolcalling"
instructions = "Be loud."
max_steps = 4
python_tools = ["tools.py"]
js_tools = "tools.js"
wheels = ["six"]
authorized_imports = ["six"]
mcp_servers = ["https://tools.example.org/mcp"]

[model]
provider = "anthropic"
model = "claude-x"
base_url = "http://127.0.0.1:9/"
'''


def test_a_full_config_becomes_the_pages_site_json(tmp_path, config):
    site = config.load_config(write(tmp_path, FULL)).site_json()
    assert site == {
        "title": "Shouter", "intro": "It shouts.", "basePath": "/my-repo/",
        "examples": [{"label": "", "task": "Shout hello"}, {"label": "Tool", "task": "Shout bye"}],
        "agent": {"type": "toolcalling", "instructions": "Be loud.", "maxSteps": 4, "planningInterval": None,
                  "authorizedImports": ["six"],
                  "mcpServers": [{"url": "https://tools.example.org/mcp"}]},
        "model": {"provider": "anthropic", "model": "claude-x", "baseUrl": "http://127.0.0.1:9/"},
        "pythonTools": ["tools/tools.py"], "jsTools": "tools/tools.js",
    }
    assert config.load_config(tmp_path / "agent.toml").wheels == ["six"]


def test_write_site_config_copies_the_tool_files_next_to_site_json(tmp_path, config):
    loaded = config.load_config(write(tmp_path, FULL))
    site = tmp_path / "site"
    site.mkdir()
    config.write_site_config(loaded, site)
    assert json.loads((site / "site.json").read_text())["title"] == "Shouter"
    assert (site / "tools" / "tools.py").read_text() == TOOLS
    assert (site / "tools" / "tools.js").read_text() == "export default [];\n"


@pytest.mark.parametrize("text, line, message", [
    ('title = "x"\ntitel = "y"\n', 2, r"titel: unknown key \(known here: agent, base_path, examples, intro"),
    ('[model]\nprovider = "openai"\napi_key = "sk-123"\n', 3, r"model.api_key: a site config never holds a key"),
    ('[model]\nkey = "sk-123"\n', 2, r"model.key: a site config never holds a key"),
    ('[agent]\nmax_steps = "ten"\n', 2, r"agent.max_steps: must be an integer, not str 'ten'"),
    ('[agent]\nmax_steps = true\n', 2, r"agent.max_steps: must be an integer"),
    ('\n[agent]\ntype = "planner"\n', 3, r"agent.type: 'planner' is not one of code, toolcalling"),
    ('[model]\nbase_url = "ftp://example.com"\n', 2, r"model.base_url: 'ftp://example.com' is not an http\(s\) URL"),
    ('[model]\nprovider = "openia"\n', 2, r"model.provider: 'openia' is not a provider; known: openai, anthropic"),
    ('base_path = "my-repo"\n', 1, r"base_path: 'my-repo' must start and end with '/'"),
    ('[agent]\npython_tools = ["missing.py"]\n', 2, r"agent.python_tools: .*missing.py: no such file"),
    ('[agent]\njs_tools = "tools.py"\n', 2, r"agent.js_tools: 'tools.py' must be a .js or .mjs file"),
    ('[agnet]\ntype = "code"\n', 1, r"agnet: unknown key"),
    ('examples = [3]\n', 1, r"examples: each example is a task string"),
    ('[agent]\nmcp_servers = ["tools.example.org/mcp"]\n', 2,
     r"agent.mcp_servers: 'tools.example.org/mcp' is not an http\(s\) URL of an MCP server"),
])
def test_a_mistake_names_the_file_line_and_key(tmp_path, config, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError, match=rf"^{str(path)}:{line}: {message}"):
        config.load_config(path)


def test_invalid_toml_names_the_file_and_the_line(tmp_path, config):
    path = write(tmp_path, 'title = "x"\nintro = \n')
    with pytest.raises(config.ConfigError, match=rf"^{path}: not valid TOML: .*line 2"):
        config.load_config(path)


def test_a_tool_file_without_a_tool_is_refused(tmp_path, config):
    path = write(tmp_path, '[agent]\npython_tools = ["tools.py"]\n', tools="def helper(x):\n    return x\n")
    with pytest.raises(config.ConfigError, match=rf"^{path}:2: agent.python_tools: .*tools.py defines no tool"):
        config.load_config(path)


def test_a_tool_file_that_fails_names_its_own_line(tmp_path, config):
    broken = TOOLS + "\nundefined_name + 1\n"
    path = write(tmp_path, '[agent]\npython_tools = ["tools.py"]\n', tools=broken)
    tool_line = broken.splitlines().index("undefined_name + 1") + 1
    with pytest.raises(config.ConfigError, match=rf"tools.py:{tool_line}: agent.python_tools: loading tools.py "
                                                 "failed: NameError"):
        config.load_config(path)
    write(tmp_path, '[agent]\npython_tools = ["tools.py"]\n', tools="@tool\ndef f(:\n")
    with pytest.raises(config.ConfigError, match=r"tools.py:2: agent.python_tools: invalid syntax"):
        config.load_config(path)


def test_a_tool_whose_schema_is_invalid_is_refused(tmp_path, config):
    undocumented = "@tool\ndef f(x: int) -> int:\n    return x\n"
    path = write(tmp_path, '[agent]\npython_tools = ["tools.py"]\n', tools=undocumented)
    with pytest.raises(config.ConfigError, match=r"tools.py:\d+: agent.python_tools: loading tools.py failed"):
        config.load_config(path)


def test_a_tool_file_for_pyodide_only_is_checked_for_its_shape(tmp_path, config):
    source = "from pyodide.http import pyfetch\n" + TOOLS
    assert config.load_config(write(tmp_path, '[agent]\npython_tools = ["tools.py"]\n', tools=source)).python_tools
    path = write(tmp_path, '[agent]\npython_tools = ["tools.py"]\n', tools="import js\nX = 1\n")
    with pytest.raises(config.ConfigError, match="defines no tool"):
        config.load_config(path)


def test_a_js_tools_module_must_export(tmp_path, config):
    path = write(tmp_path, '[agent]\njs_tools = "tools.js"\n', js="const tools = [];\n")
    with pytest.raises(config.ConfigError, match=r":2: agent.js_tools: .*tools.js exports nothing"):
        config.load_config(path)


def wasm_agent(*args, cwd):
    return subprocess.run([sys.executable, "-m", "wasm_agent", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path, config):
    result = wasm_agent("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.toml", "tools.js", "tools.py"]
    assert "build --config" in result.stdout
    loaded = config.load_config(tmp_path / "agent.toml")
    assert loaded.python_tools == [tmp_path / "tools.py"] and loaded.js_tools == tmp_path / "tools.js"
    assert loaded.provider == "openai" and loaded.examples
    text = (tmp_path / "agent.toml").read_text()
    assert text.count("#") > 10  # commented for the owner
    (tmp_path / "tools.py").write_text("# mine\n")
    again = wasm_agent("init", cwd=tmp_path)
    assert again.returncode == 2 and "already exist" in again.stderr
    assert (tmp_path / "tools.py").read_text() == "# mine\n"


def test_build_with_a_bad_config_stops_before_building(tmp_path):
    path = write(tmp_path, '[model]\napi_key = "sk-live"\n')
    result = wasm_agent("build", "--config", str(path), "--out", str(tmp_path / "site"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"error: {path}:2: model.api_key: a site config never holds a key" in result.stderr
    assert not (tmp_path / "site").exists()


def test_serve_answers_under_the_base_path_only(tmp_path):
    import urllib.error
    import urllib.request

    from build.serve import SiteServer

    (tmp_path / "index.html").write_text("<title>t</title>")
    server = SiteServer(tmp_path, port=0, base_path="/my-repo/").start()
    try:
        with urllib.request.urlopen(f"{server.url}/my-repo/") as response:
            assert response.read() == b"<title>t</title>"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{server.url}/index.html")
    finally:
        server.close()


def test_a_configured_build_is_never_reused_by_a_plain_serve(tmp_path):
    from build import site

    manifest = {"sources": site.inputs_digest(), "configured": False}
    (tmp_path / "build.json").write_text(json.dumps(manifest))
    assert site.is_current(tmp_path)
    (tmp_path / "build.json").write_text(json.dumps({**manifest, "configured": True}))
    assert not site.is_current(tmp_path)  # its agent.toml or tool files may have changed since
    assert site.is_current(tmp_path, configured_ok=True)  # the agent in Deno reads none of them
