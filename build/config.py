"""`agent.toml`: one file that configures the site's agent (`wasm-agent build --config agent.toml`).

    title = "Number helper"
    intro = "Ask about your numbers."
    examples = ["Describe 3, 5, 9", { label = "Tool", task = "What time is it?" }]
    base_path = "/my-repo/"

    [agent]
    type = "code"                     # or "toolcalling"
    instructions = "Answer in one sentence."
    max_steps = 8
    planning_interval = 3             # a planning step every 3 steps (none when left out)
    python_tools = ["tools.py"]       # files whose @tool functions run in the agent worker
    js_tools = "tools.js"             # an ES module whose tools run in the page
    wheels = ["python-dateutil"]      # packages generated code may import (as `build --wheel`)
    authorized_imports = ["dateutil"]

    [model]
    provider = "openai"               # a name of wasm_agent/providers.json
    model = "gpt-4o-mini"
    base_url = "https://api.openai.com/v1"

The file never holds a key: the site is public, so a key in it would be
everybody's. Every error names the file, the line and the key. Paths are
relative to the file's folder. `load_config` checks everything it can before
anything is built (tool files are imported on CPython to find their tools);
`site_json` is what the page reads (site.json in the built site), made by
wasm_agent/site_config.py.

A playground project (web/playground/project.js: agent.toml's fields as JSON, with the tool sources
inline) is a config too: `load_config("project.json")` checks it as the agent.toml, tools.py and
tools.js it stands for (`project_config_files`), and `build --config project.json` writes the files
of wasm_agent/site_config.py's `project_site_files`, which the page's "Download site" calls too.
"""

from __future__ import annotations

import ast
import atexit
import json
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wasm_agent.providers import PROVIDERS
from wasm_agent.site_config import PROJECT_FORMAT, PROJECT_TOOL_PATHS, project_site_files, site_json, site_json_text

from .wheel import BuildError

SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "": {"title": str, "intro": str, "examples": list, "base_path": str, "agent": dict, "model": dict},
    "agent": {"type": str, "instructions": str, "max_steps": int, "planning_interval": int, "python_tools": list, "js_tools": str,
              "wheels": list, "authorized_imports": list, "mcp_servers": list},
    "model": {"provider": str, "model": str, "base_url": str},
}
KEY_WORDS = re.compile(r"(^|_)(api_?key|key|secret|token|password)$", re.I)
AGENT_TYPES = ("code", "toolcalling")
PYODIDE_ONLY = {"js", "pyodide", "pyodide_js", "micropip"}  # tool files may import these; CPython cannot


class ConfigError(BuildError):
    """A mistake in agent.toml or a file it names; the message starts with `file:line: key`."""


@dataclass
class SiteConfig:
    path: Path
    title: str | None = None
    intro: str | None = None
    examples: list[dict[str, str]] = field(default_factory=list)
    base_path: str = "/"
    agent_type: str = "code"
    instructions: str | None = None
    max_steps: int | None = None
    planning_interval: int | None = None
    python_tools: list[Path] = field(default_factory=list)
    js_tools: Path | None = None
    wheels: list[str] = field(default_factory=list)
    authorized_imports: list[str] = field(default_factory=list)
    mcp_servers: list[str] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None

    project: dict[str, Any] | None = None  # the playground project this config was read from, if any

    def site_json(self) -> dict[str, Any]:
        """What the page reads (site.json); tool files are named as the build places them (tools/)."""
        return site_json(
            {"title": self.title, "intro": self.intro, "examples": self.examples},
            {"type": self.agent_type, "instructions": self.instructions, "max_steps": self.max_steps,
             "planning_interval": self.planning_interval, "authorized_imports": self.authorized_imports,
             "mcp_servers": self.mcp_servers},
            {"provider": self.provider, "model": self.model, "base_url": self.base_url},
            python_tools=[f"tools/{path.name}" for path in self.python_tools],
            js_tools=f"tools/{self.js_tools.name}" if self.js_tools else None, base_path=self.base_path)


def load_config(path: Path | str) -> SiteConfig:
    """Read and check `path`; raises ConfigError naming the file, line and key of the first mistake."""
    path = Path(path).resolve()
    if path.suffix == ".json":
        return _load_project(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the site config ({error.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    where = _Locator(path, text)
    _check_keys(data, where)
    config = SiteConfig(path=path)
    agent, model = data.get("agent", {}), data.get("model", {})
    config.title, config.intro = data.get("title"), data.get("intro")
    config.examples = [_example(item, where) for item in data.get("examples", [])]
    config.base_path = data.get("base_path", "/")
    if not (config.base_path.startswith("/") and config.base_path.endswith("/")) or "//" in config.base_path:
        where.fail("", "base_path", f"{config.base_path!r} must start and end with '/', like '/my-repo/'")
    config.agent_type = agent.get("type", "code")
    if config.agent_type not in AGENT_TYPES:
        where.fail("agent", "type", f"{config.agent_type!r} is not one of {', '.join(AGENT_TYPES)}")
    config.instructions = agent.get("instructions")
    config.max_steps = agent.get("max_steps")
    if config.max_steps is not None and not 1 <= config.max_steps <= 100:
        where.fail("agent", "max_steps", f"{config.max_steps} is not between 1 and 100")
    config.planning_interval = agent.get("planning_interval")
    if config.planning_interval is not None and not 1 <= config.planning_interval <= 100:
        where.fail("agent", "planning_interval", f"{config.planning_interval} is not between 1 and 100")
    config.python_tools = [_python_tool(item, where) for item in _strings(agent, "agent", "python_tools", where)]
    if "js_tools" in agent:
        config.js_tools = _js_tools(agent["js_tools"], where)
    config.wheels = [_wheel(item, where) for item in _strings(agent, "agent", "wheels", where)]
    config.authorized_imports = _strings(agent, "agent", "authorized_imports", where)
    config.mcp_servers = _strings(agent, "agent", "mcp_servers", where)
    for url in config.mcp_servers:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            where.fail("agent", "mcp_servers", f"{url!r} is not an http(s) URL of an MCP server")
    config.provider, config.model = model.get("provider"), model.get("model")
    if config.provider is not None and config.provider not in PROVIDERS:
        where.fail("model", "provider", f"{config.provider!r} is not a provider; known: {', '.join(PROVIDERS)}")
    if "base_url" in model:
        url = urlsplit(model["base_url"])
        if url.scheme not in ("http", "https") or not url.hostname:
            where.fail("model", "base_url", f"{model['base_url']!r} is not an http(s) URL")
        config.base_url = model["base_url"]
    return config


class _Locator:
    """Finds the line of a key in the TOML text (tomllib keeps no positions) and words the error."""

    def __init__(self, path: Path, text: str):
        self.path, self.lines = path, text.splitlines()

    def line(self, table: str, key: str) -> int:
        current = ""
        for number, line in enumerate(self.lines, 1):
            header = re.match(r"\s*\[\s*([A-Za-z0-9_.\"-]+)\s*\]", line)
            if header:
                current = header.group(1).strip('"')
                if not table and current == key:  # a table where a plain key was expected
                    return number
            elif current == table and re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
                return number
        return 1

    def fail(self, table: str, key: str, problem: str):
        name = f"{table}.{key}" if table else key
        raise ConfigError(f"{self.path}:{self.line(table, key)}: {name}: {problem}")


def _check_keys(data: dict, where: _Locator) -> None:
    for table, known in SCHEMA.items():
        values = data if not table else data.get(table, {})
        for key, value in values.items():
            if KEY_WORDS.search(key):
                where.fail(table, key, "a site config never holds a key: the site is public, so it would be "
                                       "everybody's. Visitors enter their own in Model settings.")
            if key not in known:
                where.fail(table, key, f"unknown key (known here: {', '.join(sorted(known))})")
            expected = known[key]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                names = {str: "a string", int: "an integer", list: "a list", dict: "a table"}
                where.fail(table, key, f"must be {names[expected]}, not {type(value).__name__} {value!r}")


def _strings(table: dict, name: str, key: str, where: _Locator) -> list[str]:
    items = table.get(key, [])
    if not all(isinstance(item, str) and item for item in items):
        where.fail(name, key, "must be a list of non-empty strings")
    return list(items)


def _example(item: Any, where: _Locator) -> dict[str, str]:
    if isinstance(item, str):
        return {"label": "", "task": item}
    if isinstance(item, dict) and isinstance(item.get("task"), str) and set(item) <= {"label", "task"} \
            and isinstance(item.get("label", ""), str):
        return {"label": item.get("label", ""), "task": item["task"]}
    where.fail("", "examples", f"each example is a task string or {{ label = \"…\", task = \"…\" }}, not {item!r}")


def _file(value: str, table: str, key: str, where: _Locator, suffixes: tuple[str, ...]) -> Path:
    path = (where.path.parent / value).resolve()
    if path.suffix not in suffixes:
        where.fail(table, key, f"{value!r} must be a {' or '.join(suffixes)} file")
    if not path.is_file():
        where.fail(table, key, f"{path}: no such file")
    return path


def _python_tool(value: str, where: _Locator) -> Path:
    """A Python file that defines at least one valid tool (checked by running it on CPython)."""
    path = _file(value, "agent", "python_tools", where, (".py",))
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError as error:
        raise ConfigError(f"{path}:{error.lineno}: agent.python_tools: {error.msg}") from None
    from wasm_agent.tools.source import tools_from_source

    try:
        tools = tools_from_source(source, str(path))
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in PYODIDE_ONLY:
            tools = _declared_tools(tree)  # it imports Pyodide's modules: check its shape only
        else:
            raise ConfigError(_tool_failure(path, where, error)) from None
    except Exception as error:  # noqa: BLE001 - any failure of the owner's file is reported, with its line
        raise ConfigError(_tool_failure(path, where, error)) from None
    if not tools:
        raise ConfigError(f"{where.path}:{where.line('agent', 'python_tools')}: agent.python_tools: {path} defines "
                          "no tool: decorate a typed, documented function with @tool (see `wasm-agent init`)")
    return path


def _declared_tools(tree: ast.Module) -> list[str]:
    """Names of top-level functions decorated with @tool and classes deriving from Tool."""
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                isinstance(d, ast.Name) and d.id == "tool" for d in node.decorator_list):
            found.append(node.name)
        elif isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == "Tool" for b in node.bases):
            found.append(node.name)
    return found


def _tool_failure(path: Path, where: _Locator, error: BaseException) -> str:
    line = next((frame.lineno for frame in _frames(error) if frame.filename == str(path)), None)
    at = f"{path}:{line}" if line else f"{where.path}:{where.line('agent', 'python_tools')}"
    return f"{at}: agent.python_tools: loading {path.name} failed: {type(error).__name__}: {error}"


def _frames(error: BaseException):
    import traceback

    return traceback.extract_tb(error.__traceback__)


def _js_tools(value: str, where: _Locator) -> Path:
    path = _file(value, "agent", "js_tools", where, (".js", ".mjs"))
    if not re.search(r"^\s*export\s", path.read_text(encoding="utf-8"), re.M):
        where.fail("agent", "js_tools", f"{path} exports nothing: it must `export default [ {{name, description, "
                                        "inputs, outputType, fn}} ]` (or `export const tools = [...]`)")
    return path


def _wheel(value: str, where: _Locator) -> str:
    if value.endswith(".whl"):
        return str(_file(value, "agent", "wheels", where, (".whl",)))
    return value  # a requirement: pip checks it (build/packages.py)


def write_site_config(config: SiteConfig, site: Path) -> None:
    """site.json and the tool files (in tools/) of a configured site; a project's are the files the
    playground's "Download site" writes (wasm_agent/site_config.py makes both)."""
    (site / "tools").mkdir(exist_ok=True)
    if config.project is not None:
        for name, text in project_site_files(config.project).items():
            (site / name).write_text(text, encoding="utf-8")
        return
    files = [*config.python_tools, *([config.js_tools] if config.js_tools else [])]
    names = [path.name for path in files]
    if len(set(names)) < len(names):
        raise ConfigError(f"{config.path}: agent.python_tools / agent.js_tools: two tool files share a name "
                          f"({', '.join(sorted(names))}); rename one")
    for path in files:
        shutil.copy2(path, site / "tools" / path.name)
    (site / "site.json").write_text(site_json_text(config.site_json()), encoding="utf-8")


PROJECT_TOOL_FILES = {key: Path(path).name for key, path in PROJECT_TOOL_PATHS.items()}  # as a project's site names them


def project_config_files(project: dict[str, Any]) -> dict[str, str]:
    """agent.toml and the tool files of a playground project (version 1), by file name.

    Empty texts and unset numbers are left out, as the page leaves them out of site.json.
    """
    if not isinstance(project, dict) or project.get("format") != PROJECT_FORMAT:
        raise ConfigError(f"not a wasm-agent project (its \"format\" is not {PROJECT_FORMAT!r})")
    if project.get("version") != 1:
        raise ConfigError(f"a project of format version {project.get('version')!r}; this wasm-agent reads version 1")
    site, agent, model = (project.get(part) or {} for part in ("site", "agent", "model"))
    files, lines = {}, []
    for key in ("title", "intro"):
        if site.get(key):
            lines.append(f"{key} = {_toml(site[key])}")
    if site.get("examples"):
        lines.append(f"examples = {_toml(site['examples'])}")
    lines.append("\n[agent]")
    for key in ("type", "instructions", "max_steps", "planning_interval", "authorized_imports", "mcp_servers"):
        if agent.get(key) not in (None, "", []):
            lines.append(f"{key} = {_toml(agent[key])}")
    for key, name in PROJECT_TOOL_FILES.items():
        source = agent.get(key) or ""
        if source.strip():
            files[name] = source
            lines.append(f"{key} = {_toml([name] if key == 'python_tools' else name)}")
    lines.append("\n[model]")
    for key in ("provider", "model", "base_url"):
        if model.get(key):
            lines.append(f"{key} = {_toml(model[key])}")
    return {"agent.toml": "\n".join(lines) + "\n", **files}


def _toml(value: Any) -> str:
    """A TOML value (strings, numbers, lists, inline tables of those)."""
    if isinstance(value, str):  # a JSON string is a TOML basic string, but for U+007F
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"{value!r} has no place in agent.toml")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + " }"
    raise ConfigError(f"{value!r} has no place in agent.toml")


def _load_project(path: Path) -> SiteConfig:
    """A project file read as the agent.toml and tool files it stands for (written to a temporary folder)."""
    try:
        project = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the project ({error.strerror})") from None
    except ValueError as error:
        raise ConfigError(f"{path}: not a JSON project file: {error}") from None
    try:
        files = project_config_files(project)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    folder = Path(tempfile.mkdtemp(prefix="wasm-agent-project-"))
    atexit.register(shutil.rmtree, folder, True)  # the build copies the tool files into the site
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    try:
        config = load_config(folder / "agent.toml")
    except ConfigError as error:
        raise ConfigError(f"{path} (as {error})") from None
    config.project = project
    return config
