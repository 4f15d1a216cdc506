"""A playground project shared as a link and published as a static site, in Chromium, as people do it.

A sharer's page makes the link; a visitor opens it in a fresh browser: the project is shown read-only
with its tools' source and where each part runs, and none of it runs until they agree and edit a copy.
Then a task calls the project's Python and JS tools against the loopback model. A damaged link gets a
clear message and a working page. "Download site" (offline, from the service worker's cache) gives a
zip whose site.json and tools/ are what `wasm-agent build --config project.json` writes, byte for byte;
unzipped and served by Python's plain http.server (no COOP/COEP), it opens on the agent and gives the same
answer. The site ships the in-browser model: offline, the zip says it leaves the model out; online, the
zip carries the model's weights whole.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import json
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from site_pages import MockProviderServer, SitePage, SiteServer, build_site, screenshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from share_project import PROJECT  # noqa: E402

# The JS tools count their loading: a shared project's tools must not load before the visitor agrees.
JS_TOOLS = "globalThis.measurementToolsLoaded = (globalThis.measurementToolsLoaded ?? 0) + 1;\n" \
    + PROJECT["agent"]["js_tools"]
VALUES = "[12.1, 11.8, 12.6, 13.0, 30.2]"
STEP = f"""Thought: I describe the values with the tools.
<code>
stats = describe_numbers(values={VALUES})
print("median", stats["median"], "outliers", find_outliers(values={VALUES}, threshold=1.5), label_value(value=42, unit="ft"))
</code>"""
FINAL = """Thought: done.
<code>
final_answer(f"median {describe_numbers(values=[1.0, 2.0, 3.0])['median']}, {convert_units(value=100, unit='cm')} m, {label_value(value=3, unit='m')}")
</code>"""
ANSWER = "median 2.0, 1.0 m, 3 m"
OBSERVATION = "median 12.6 outliers [30.2] 42 ft"


@pytest.fixture(scope="module")
def mock():
    with MockProviderServer() as server:
        yield server


@pytest.fixture(scope="module")
def project(mock):
    shared = copy.deepcopy(PROJECT)
    shared["agent"]["js_tools"] = JS_TOOLS
    shared["model"] = {"provider": "openai", "model": "mock-coder", "base_url": mock.openai_base}
    return shared


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = tmp_path_factory.mktemp("playground") / "dist"
    build_site(out, browser_model="full", log=lambda *_: None)  # the weights are hard links into .cache/browser-model/
    assert json.loads((out / "build.json").read_text())["browserModel"], \
        "the site has no in-browser model: fill the cache with `python build/browser_model.py --fetch-only`"
    site = SiteServer(out, port=0, isolated=True).start()  # as `wasm-agent serve`
    yield site
    site.close()


@pytest.fixture(scope="module")
def link(browser, server, project):
    """The share link, made by the sharer's page (the Share link code of the playground)."""
    sharer = SitePage(browser, server.url)
    try:
        sharer.page.goto(server.url + "/")
        made = sharer.page.evaluate("async (project) => (await import('./playground/share.js')).shareLink(project)", project)
    finally:
        sharer.close()
    assert made.startswith(f"{server.url}/#project=") and "mock-coder" not in made  # compressed, not plain JSON
    return made


@pytest.fixture(autouse=True)
def fresh(mock):
    mock.reset()


def posts(mock):
    return [request for request in mock.requests if request.method == "POST"]


def run_task(page, mock, task="Describe my measurements") -> None:
    mock.script(STEP, FINAL)
    page.turns = page.page.locator(".msg-agent").count()
    page.page.fill("#task", task)
    page.page.click("#run")
    page.wait_idle()


@pytest.fixture(scope="module")
def visitor(browser, server, link, mock):
    """A fresh browser that opened the link, agreed to the tools and edited a copy; it ran no task yet."""
    page = SitePage(browser, server.url)
    page.page.goto(link)
    yield page
    page.close()


def test_a_shared_link_opens_read_only_and_runs_nothing_before_the_visitor_agrees(visitor, project, mock):
    ui = visitor.page
    dialog = ui.locator("#shared-project")
    dialog.wait_for()
    visitor.wait_ready()
    assert ui.text_content("#shared-project-title") == "Shared agent: Measurement desk"
    assert ui.text_content("#shared-python-tools") == project["agent"]["python_tools"]  # the tools' source, whole
    assert ui.text_content("#shared-js-tools") == JS_TOOLS
    where = ui.text_content("#shared-where-runs")
    assert "The Python code the model writes runs in the sandbox" in where
    assert "its Python tools run in the page's agent worker and its JS tools run in the page itself" in where
    host = project["model"]["base_url"].split("/")[2]
    assert f"with the API key you enter for openai, to {host}: check that" in where  # where a key would go
    summary = ui.text_content(".shared-summary")
    assert "at most 6 steps" in summary and f"openai · mock-coder · {project['model']['base_url']}" in summary
    assert ui.is_disabled("#shared-copy")  # not before the visitor has agreed
    assert ui.evaluate("globalThis.measurementToolsLoaded") is None and posts(mock) == []
    screenshot(ui, "share-1-read-only")
    ui.check("#shared-consent")
    assert ui.is_enabled("#shared-copy")
    screenshot(ui, "share-1b-agreed")  # the consent is checked where it is, at the end of the tools
    ui.click("#shared-copy")
    dialog.wait_for(state="detached")
    ui.wait_for_selector("#playground:not([hidden]) #pg-python .cm-content")  # the copy, open for editing
    assert ui.input_value("#pg-name") == "Measurement desk"
    assert ui.input_value("#pg-instructions") == project["agent"]["instructions"]
    assert "def find_outliers(values: list[float], threshold: float = 2.0) -> list[float]:" in \
        ui.locator("#pg-python .cm-line").all_inner_texts()
    assert ui.evaluate("location.hash") == ""  # a reload now is the page itself, not the link again
    saved = ui.evaluate("import('./playground/project-store.js').then((m) => m.openProjectStore()).then((s) => s.list())")
    assert [(item["name"], item["agent"]["python_tools"]) for item in saved] == [("Measurement desk", project["agent"]["python_tools"])]
    assert saved[0]["id"] != project["id"]  # a copy of its own, kept with the visitor's projects
    assert ui.evaluate("globalThis.measurementToolsLoaded") is None  # editing runs nothing either
    screenshot(ui, "share-2-copied")


def test_the_copy_runs_a_task_that_calls_its_python_and_js_tools(visitor, mock):
    ui = visitor.page
    mock.script(STEP, FINAL)
    ui.fill("#pg-task", "Describe my measurements")
    ui.click("#pg-run")
    row = ui.locator("#pg-runs tbody tr").first
    row.wait_for(timeout=120_000)
    assert row.locator("td").nth(2).inner_text() == f"Answered: {ANSWER}"
    assert OBSERVATION in ui.locator("#pg-log .observation-text").first.text_content()
    assert visitor.page.evaluate("globalThis.measurementToolsLoaded") == 1
    sent = posts(mock)
    assert len(sent) == 2 and all(request.json["model"] == "mock-coder" for request in sent)
    system = json.dumps(sent[0].json["messages"][0])
    assert "Answer in one short paragraph." in system and "find_outliers" in system and "label_value" in system
    screenshot(visitor.page, "share-3-answer")
    assert visitor.errors == []


def test_the_copy_shares_the_same_project_again(visitor, link):
    visitor.page.click("#pg-share #share-project")
    visitor.page.locator("#share-link").wait_for()
    again = visitor.page.input_value("#share-link")
    opened = visitor.page.evaluate("async (hash) => (await import('./playground/share.js')).readShareFragment(hash)",
                                   again[again.index("#"):])
    original = visitor.page.evaluate("async (hash) => (await import('./playground/share.js')).readShareFragment(hash)",
                                     link[link.index("#"):])
    assert {**opened, "id": None, "updated": None} == {**original, "id": None, "updated": None}
    assert opened["id"] != original["id"]  # the copy is a project of its own
    assert "never your key" in visitor.page.text_content(".project-actions-status")


@pytest.mark.parametrize("damage", ["cut", "edited"])
def test_a_damaged_link_says_so_and_the_page_works(browser, server, link, mock, damage):
    fragment = link[link.index("#"):]
    broken = fragment[:len(fragment) // 2] if damage == "cut" else fragment[:40] + "%%" + fragment[42:]
    page = SitePage(browser, server.url)
    try:
        page.page.goto(server.url + "/" + broken)
        problem = page.page.locator("#shared-link-problem")
        problem.wait_for()
        assert "This shared link cannot be opened" in problem.text_content()
        assert "damaged" in page.page.text_content("#shared-link-problem .notice-error")
        if damage == "cut":
            screenshot(page.page, "share-4-damaged-link")
        page.page.click("#shared-link-problem .btn-primary")
        problem.wait_for(state="detached")
        page.wait_ready()
        assert page.page.is_visible("#welcome") and page.page.is_hidden("#playground")
        assert page.errors == [] and posts(mock) == []
    finally:
        page.close()


def download_site(ui, folder: Path, shot: str) -> Path:
    """Click "Download site", keep the zip in `folder` and wait for the status line to say it is done."""
    with ui.expect_download(timeout=300_000) as download:
        ui.click("#pg-share #download-site")
    path = folder / download.value.suggested_filename
    download.value.save_as(path)
    ui.wait_for_function("document.querySelector('.project-actions-status').textContent.startsWith('Site downloaded')")
    screenshot(ui, shot)
    return path


@pytest.fixture(scope="module")
def downloaded(visitor, server, tmp_path_factory):
    """The site zip the visitor downloads, offline: every file from the service worker's cache."""
    ui = visitor.page
    assert ui.evaluate("navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller !== null)")
    visitor.context.set_offline(True)
    before = len(server.requests)
    try:
        path = download_site(ui, tmp_path_factory.mktemp("download"), "share-5-downloaded")
    finally:
        visitor.context.set_offline(False)
    assert [request for request in server.requests[before:] if request != "/sw.js"] == []
    # The model's weights are not in the offline cache: the zip is made without them, and says so.
    assert ui.text_content(".project-actions-status").endswith(
        "The in-browser model's files could not be fetched (offline?): the site is made without it, and its "
        "visitors choose a provider.")
    return path


def test_download_site_zips_the_runtime_and_the_same_site_json_as_the_cli(downloaded, server, project, tmp_path):
    assert downloaded.name == "measurement-desk-site.zip"
    with zipfile.ZipFile(downloaded) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        manifest = json.loads(archive.read("build.json"))
        page_site = {name: archive.read(name).decode() for name in names if name == "site.json" or name.startswith("tools/")}
    runtime = {path for path in json.loads((server.root / "build.json").read_text())["files"]
               if path != "site.json" and not path.startswith("tools/")}
    assert names == runtime | {"build.json", "site.json", "tools/tools.py", "tools/tools.js"}
    assert set(manifest["files"]) == names - {"build.json"}  # the service worker precaches all of it
    assert manifest["browserModel"] is None
    (tmp_path / "project.json").write_text(json.dumps(project))
    out = tmp_path / "cli-site"
    built = subprocess.run([sys.executable, "-m", "wasm_agent", "build", "--config", str(tmp_path / "project.json"),
                            "--out", str(out), "--no-browser-model", "--no-snapshot"],
                           capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    cli_site = {path.relative_to(out).as_posix(): path.read_text() for path in [out / "site.json", *(out / "tools").iterdir()]}
    assert page_site == cli_site  # byte for byte: both come from wasm_agent/site_config.py
    assert sorted(page_site) == ["site.json", "tools/tools.js", "tools/tools.py"]
    assert page_site["tools/tools.py"] == project["agent"]["python_tools"]
    assert json.loads(page_site["site.json"])["model"]["model"] == "mock-coder"
    assert "sk-" not in json.dumps(page_site) and "apiKey" not in page_site["site.json"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def unzipped_site(downloaded, tmp_path_factory):
    """The zip unpacked and served by Python's plain http.server: no COOP/COEP, no special headers."""
    root = tmp_path_factory.mktemp("host")
    with zipfile.ZipFile(downloaded) as archive:
        archive.extractall(root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_unzipped_site_on_a_plain_host_opens_on_the_agent_and_gives_the_same_answer(browser, unzipped_site, mock):
    page = SitePage(browser, unzipped_site).open("/")
    try:
        ui = page.page
        assert ui.title() == "Measurement desk" and ui.text_content("#welcome h1") == "Measurement desk"
        assert ui.text_content("#composer-hint") == "OpenAI-compatible · mock-coder · code agent"
        assert ui.evaluate("crossOriginIsolated") is False and "JSPI" in ui.text_content("#runtime-status")
        run_task(page, mock)  # no settings filled in: the project's model is the site's default
        turn = page.last_turn()
        assert OBSERVATION in turn.locator(".observation-text").first.text_content()
        assert turn.locator(".final-text").text_content() == ANSWER
        system = json.dumps(posts(mock)[0].json["messages"][0])
        assert "Answer in one short paragraph." in system and "find_outliers" in system
        screenshot(ui, "share-6-unzipped-site")
        assert page.errors == []
    finally:
        page.close()


@pytest.fixture(scope="module")
def downloaded_with_model(visitor, tmp_path_factory):
    """The site zip the visitor downloads online: the in-browser model's weights come from the site."""
    ui = visitor.page
    path = download_site(ui, tmp_path_factory.mktemp("download-model"), "share-7-downloaded-with-model")
    assert ui.text_content(".project-actions-status").endswith(
        "It includes the in-browser model SmolLM2-135M-Instruct (Q4_1) (98.4 MB): its visitors can use it with no key.")
    return path


def test_download_site_of_a_site_with_the_in_browser_model_carries_the_models_files(downloaded_with_model, server):
    shipped = json.loads((server.root / "build.json").read_text())["browserModel"]
    with zipfile.ZipFile(downloaded_with_model) as archive:
        names = set(archive.namelist())
        assert set(shipped["files"]) <= names and "models/SmolLM2-135M-Instruct.Q4_1.gguf" in names
        manifest = json.loads(archive.read("build.json"))
        assert manifest["browserModel"] == shipped and not set(shipped["files"]) & set(manifest["files"])  # on demand
        default = json.loads(archive.read("models/default.json"))
        digest, size = hashlib.sha256(), 0
        with archive.open(default["url"]) as weights:
            for chunk in iter(lambda: weights.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        assert (size, digest.hexdigest()) == (default["bytes"], default["sha256"])  # the weights, whole
        for name in shipped["files"]:
            assert archive.getinfo(name).file_size == (server.root / name).stat().st_size, name
