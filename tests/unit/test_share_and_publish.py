"""Share links and published sites of a playground project, outside the browser: the page's modules
(web/playground/share.js, publish.js, zip.js) under Node, and `build --config project.json` on CPython.

`build --config project.json` writes the site.json and tool files that the page's "Download site" gets
from wasm_agent/site_config.py in its agent worker; a link carries the
project (never a key) in a few kilobytes, and a damaged, oversized or hostile link is refused with a
message that says so."""

import base64
import copy
import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from share_project import PROJECT  # noqa: E402

pytestmark = [pytest.mark.cpython_only,  # the site build and Node run from a checkout
              pytest.mark.skipif(shutil.which("node") is None, reason="Node is installed by setup.sh")]

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "tests" / "js" / "playground_share_cli.mjs"


def node(*args: str, stdin) -> dict:
    run = subprocess.run(["node", str(CLI), *args], input=json.dumps(stdin), capture_output=True, text=True,
                         timeout=60, check=False, cwd=REPO)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def fragment(payload: bytes, *, raw: bool = True) -> str:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15 if raw else 15)
    packed = packer.compress(payload) + packer.flush()
    return "#project=" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def built_files(tmp_path: Path, project: dict) -> dict[str, str]:
    """site.json and tools/ as `build --config project.json` writes them."""
    from build.config import load_config, write_site_config

    (tmp_path / "project.json").write_text(json.dumps(project))
    site = tmp_path / "site"
    site.mkdir()
    write_site_config(load_config(tmp_path / "project.json"), site)
    return {path.relative_to(site).as_posix(): path.read_text(encoding="utf-8") for path in site.rglob("*") if path.is_file()}


def test_the_cli_writes_the_site_files_the_pages_download_gets_from_its_agent_worker(tmp_path):
    from wasm_agent.site_config import project_site_files

    cli = built_files(tmp_path, PROJECT)
    assert cli == project_site_files(PROJECT)  # the function the agent worker runs for "Download site"
    assert sorted(cli) == ["site.json", "tools/tools.js", "tools/tools.py"]
    assert cli["tools/tools.py"] == PROJECT["agent"]["python_tools"] and cli["tools/tools.js"] == PROJECT["agent"]["js_tools"]
    site_json = json.loads(cli["site.json"])
    assert site_json["agent"]["instructions"].startswith("Answer in one short paragraph.")
    assert site_json["model"] == {"provider": "openai", "model": "gpt-4o-mini", "baseUrl": "https://api.openai.com/v1"}
    assert site_json["pythonTools"] == ["tools/tools.py"] and site_json["jsTools"] == "tools/tools.js"


def test_a_sparse_project_leaves_unset_what_it_does_not_say(tmp_path):
    from wasm_agent.site_config import project_site_files

    sparse = copy.deepcopy(PROJECT)
    sparse["site"] = {"title": "", "intro": "", "examples": ["Just a task"]}
    sparse["agent"].update(type="toolcalling", instructions="", max_steps=None, planning_interval=3,
                           authorized_imports=[], mcp_servers=["https://tools.example.org/mcp"], js_tools="  \n")
    sparse["model"] = {"provider": "", "model": "", "base_url": ""}
    cli = built_files(tmp_path, sparse)
    assert cli == project_site_files(sparse) and sorted(cli) == ["site.json", "tools/tools.py"]
    site = json.loads(cli["site.json"])
    assert site["jsTools"] is None and site["title"] is None and site["examples"] == [{"label": "", "task": "Just a task"}]
    assert site["agent"] == {"type": "toolcalling", "instructions": None, "maxSteps": None, "planningInterval": 3,
                             "authorizedImports": [], "mcpServers": [{"url": "https://tools.example.org/mcp"}]}
    assert site["model"] == {"provider": None, "model": None, "baseUrl": None}


def test_a_project_file_with_a_mistake_is_refused_by_the_cli(tmp_path):
    broken = copy.deepcopy(PROJECT)
    broken["agent"]["max_steps"] = 500
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    run = subprocess.run([sys.executable, "-m", "wasm_agent", "build", "--config", str(tmp_path / "broken.json"),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, check=False)
    assert run.returncode == 2 and "broken.json" in run.stderr and "max_steps: 500 is not between 1 and 100" in run.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    run = subprocess.run([sys.executable, "-m", "wasm_agent", "build", "--config", str(tmp_path / "other.json")],
                         capture_output=True, text=True, cwd=REPO, check=False)
    assert run.returncode == 2 and "not a wasm-agent project" in run.stderr


def test_a_link_carries_the_project_compressed_in_its_fragment(capsys):
    link = node("link", stdin=PROJECT)["link"]
    assert link.startswith("https://example.org/agents/?x=1#project=")
    raw = len(json.dumps(PROJECT))
    with capsys.disabled():
        print(f"\nshare link of a realistic project: {len(link)} characters for {raw} bytes of JSON")
    assert len(link) < raw * 0.6  # compressed: well under the project's own size
    opened = node("open", stdin=link[link.index("#"):])
    assert opened["project"] == PROJECT


def test_a_project_with_a_key_is_never_shared():
    leaky = copy.deepcopy(PROJECT)
    leaky["model"]["api_key"] = "sk-secret"
    run = subprocess.run(["node", str(CLI), "link"], input=json.dumps(leaky), capture_output=True, text=True,
                         cwd=REPO, check=False)
    assert run.returncode != 0 and "model.api_key: a project never holds a key" in run.stderr
    assert "sk-secret" not in run.stdout


@pytest.mark.parametrize("hash_, message", [
    ("#project=", "damaged: it has characters a share link never has"),
    ("#project=abc$%", "damaged: it has characters a share link never has"),
    ("#project=" + "A" * 300_000, "too long to be a shared agent"),
    ("#project=______8", "damaged and cannot be read"),  # block type 3: not deflate
    ("#project=A", "damaged and cannot be read"),  # not even base64,
])
def test_a_damaged_or_oversized_link_is_refused_with_a_clear_message(hash_, message):
    assert message in node("open", stdin=hash_)["error"]


def test_a_cut_link_is_refused():
    link = node("link", stdin=PROJECT)["link"]
    error = node("open", stdin=link[link.index("#"):-40])["error"]
    assert error.startswith("ShareLinkError: This link's shared agent is damaged")


def test_a_link_that_inflates_to_megabytes_is_refused_before_it_is_read():
    bomb = fragment(b'{"name": "' + b"a" * 20_000_000 + b'"}')
    assert len(bomb) < 60_000
    assert "too big to open (more than 2 MB)" in node("open", stdin=bomb)["error"]


@pytest.mark.parametrize("payload, message", [
    (b"not json", "it is not a project"),
    (json.dumps({"format": "wasm-agent-project", "version": 2, "name": "x"}).encode(), "version"),
    (json.dumps({**PROJECT, "agent": {**PROJECT["agent"], "max_steps": "many"}}).encode(), "agent.max_steps"),
    (json.dumps({**PROJECT, "model": {**PROJECT["model"], "apiKey": "sk-x"}}).encode(), "never holds a key"),
])
def test_a_link_that_is_not_a_usable_project_says_what_is_wrong(payload, message):
    error = node("open", stdin=fragment(payload))["error"]
    assert error.startswith("ShareLinkError: This link") and message in error


def test_the_zip_writer_makes_an_archive_any_unzip_reads(tmp_path):
    files = [{"name": "index.html", "text": "<!doctype html>"}, {"name": "tools/tools.py", "text": "x = 'é'\n"},
             {"name": "empty.txt", "text": ""}, {"name": "naïve/ü.js", "text": "export default [];\n" * 500}]
    out = tmp_path / "site.zip"
    node("zip", str(out), stdin=files)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None  # every CRC matches
        assert archive.namelist() == [item["name"] for item in files]
        for item in files:
            assert archive.read(item["name"]).decode() == item["text"]
        info = archive.getinfo("index.html")
        assert info.date_time == (2026, 1, 2, 3, 4, 6) and info.compress_type == zipfile.ZIP_STORED
    unzip = shutil.which("unzip")
    if unzip:  # Info-ZIP's reading too, where it is installed
        run = subprocess.run([unzip, "-t", str(out)], capture_output=True, text=True, check=False)
        assert run.returncode == 0 and "No errors detected" in run.stdout


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def built_site(tmp_path):
    """A site as `build` leaves it (build.json lists the files; the in-browser model's are fetched on demand),
    served by a plain static server."""
    root = tmp_path / "site"
    files = {"index.html": "<!doctype html>", "pyodide/pyodide.mjs": "export {};", "site.json": "null\n",
             "tools/demo.py": "# the old site's tool\n", "models/small.gguf": "GGUF" * 100}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    listed = {name: len(text) for name, text in files.items() if not name.startswith("models/")}
    manifest = {"version": "0123456789abcdef", "files": listed, "browserModel": {"files": ["models/small.gguf"]},
                "configured": False}
    (root / "build.json").write_text(json.dumps(manifest))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def site_zip_input() -> str:
    from wasm_agent.site_config import project_site_files

    return json.dumps({"project": PROJECT, "files": project_site_files(PROJECT)})


def zip_site(url: str, out: Path) -> tuple[dict, dict[str, bytes]]:
    run = subprocess.run(["node", str(CLI), "site-zip", url, str(out)], input=site_zip_input(), capture_output=True,
                         text=True, timeout=60, check=False, cwd=REPO)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(out) as archive:
        return json.loads(run.stdout), {name: archive.read(name) for name in archive.namelist()}


def test_the_site_zip_replaces_the_sites_agent_and_keeps_its_runtime(built_site, tmp_path):
    root, url = built_site
    result, files = zip_site(url, tmp_path / "site.zip")
    assert sorted(files) == ["build.json", "index.html", "models/small.gguf", "pyodide/pyodide.mjs", "site.json",
                             "tools/tools.js", "tools/tools.py"]  # the old site.json and tools/ are not the project's
    assert files["tools/tools.py"].decode() == PROJECT["agent"]["python_tools"]
    assert json.loads(files["site.json"])["title"] == "Measurement desk"
    manifest = json.loads(files["build.json"])
    assert manifest["browserModel"] == {"files": ["models/small.gguf"]} and manifest["configured"] is True
    assert manifest["version"] != "0123456789abcdef"  # its own cache in the service worker
    assert manifest["files"] == {name: len(data) for name, data in files.items()
                                 if name not in ("build.json", "models/small.gguf")}
    assert result["notes"] == ["It includes the in-browser model (0.0 MB): its visitors can use it with no key."]
    assert result["files"] == 7


def test_without_the_in_browser_models_weights_the_zip_leaves_that_model_out_and_says_so(built_site, tmp_path):
    root, url = built_site
    (root / "models" / "small.gguf").unlink()  # as when offline: the weights are not in the offline cache
    result, files = zip_site(url, tmp_path / "site.zip")
    assert "models/small.gguf" not in files and json.loads(files["build.json"])["browserModel"] is None
    assert result["notes"] == ["The in-browser model's files could not be fetched (offline?): the site is made "
                               "without it, and its visitors choose a provider."]


def test_a_missing_runtime_file_stops_the_zip_with_its_name(built_site, tmp_path):
    root, url = built_site
    (root / "pyodide" / "pyodide.mjs").unlink()
    run = subprocess.run(["node", str(CLI), "site-zip", url, str(tmp_path / "site.zip")], input=site_zip_input(),
                         capture_output=True, text=True, timeout=60, check=False, cwd=REPO)
    assert run.returncode != 0 and "/pyodide/pyodide.mjs: HTTP 404" in run.stderr
    assert not (tmp_path / "site.zip").exists()
