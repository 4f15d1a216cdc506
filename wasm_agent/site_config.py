"""The site.json a page reads, made from an agent's definition: the one mapping behind both
`wasm-agent build --config` (agent.toml or a playground project, on CPython) and the playground's
"Download site" (in the page's agent worker), so the two write the same bytes for one project.

    >>> files = project_site_files({"format": "wasm-agent-project", "version": 1, "name": "Dice",
    ...     "agent": {"instructions": "Roll fair.", "python_tools": "@tool\\ndef roll(): ..."}})
    >>> sorted(files), json.loads(files["site.json"])["pythonTools"]
    (['site.json', 'tools/tools.py'], ['tools/tools.py'])

A playground project (web/playground/project.js) is agent.toml's fields as JSON, with the tool
files' sources inline: its Python tools become tools/tools.py and its JS tools tools/tools.js.
Empty texts become null (the page then keeps its own defaults); a project never holds a key.
"""

from __future__ import annotations

import json
from typing import Any

PROJECT_FORMAT = "wasm-agent-project"
PROJECT_TOOL_PATHS = {"python_tools": "tools/tools.py", "js_tools": "tools/tools.js"}  # where a project's tools go


def site_json(site: dict[str, Any], agent: dict[str, Any], model: dict[str, Any], *, python_tools: list[str],
              js_tools: str | None, base_path: str = "/") -> dict[str, Any]:
    """What the page reads, from agent.toml's three parts (top level, [agent], [model]) as dicts,
    with the site paths of the tool files."""
    text = lambda value: value or None  # noqa: E731 - "" and None alike: not set
    return {
        "title": text(site.get("title")), "intro": text(site.get("intro")),
        "examples": [_example(item) for item in site.get("examples") or []], "basePath": base_path,
        "agent": {"type": agent.get("type") or "code", "instructions": text(agent.get("instructions")),
                  "maxSteps": agent.get("max_steps"), "planningInterval": agent.get("planning_interval"),
                  "authorizedImports": list(agent.get("authorized_imports") or []),
                  "mcpServers": [{"url": url} for url in agent.get("mcp_servers") or []]},
        "model": {"provider": text(model.get("provider")), "model": text(model.get("model")),
                  "baseUrl": text(model.get("base_url"))},
        "pythonTools": list(python_tools),
        "jsTools": js_tools,
    }


def site_json_text(data: dict[str, Any]) -> str:
    """site.json's bytes, as every build writes them."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def project_site_files(project: dict[str, Any]) -> dict[str, str]:
    """The site.json and tool files of a playground project, by path in the site."""
    if not isinstance(project, dict) or project.get("format") != PROJECT_FORMAT:
        raise ValueError(f"not a wasm-agent project (its \"format\" is not {PROJECT_FORMAT!r})")
    agent = project.get("agent") or {}
    tools = {key: path for key, path in PROJECT_TOOL_PATHS.items() if (agent.get(key) or "").strip()}
    data = site_json(project.get("site") or {}, agent, project.get("model") or {},
                     python_tools=[tools["python_tools"]] if "python_tools" in tools else [],
                     js_tools=tools.get("js_tools"))
    return {"site.json": site_json_text(data), **{path: agent[key] for key, path in tools.items()}}


def _example(item: Any) -> dict[str, str]:
    if isinstance(item, str):
        return {"label": "", "task": item}
    return {"label": item.get("label", ""), "task": item["task"]}
