"""The site for tests/e2e/test_runs_browser.py: the built dist/ with saved runs wired in.

`INTEGRATION` is the exact edit docs/runs.md asks of the site's files
(agent.worker.js, agent-client.js, app.js, index.html). `integrate` applies it to a copy of dist/
when the site does not have it yet, so the tests check those very lines; once
the site has them, the copy is left as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# file -> [(anchor, replacement)]: each anchor must occur once, and becomes its replacement.
INTEGRATION: dict[str, list[tuple[str, str]]] = {
    "agent.worker.js": [
        ('import { SandboxClient } from "./sandbox-client.js";\n',
         ('import { SandboxClient } from "./sandbox-client.js";\n'
         'import { installRunHandlers } from "./runs-api.js";\n')),
        ("let nextAgentId = 1;\n",
         ("let nextAgentId = 1;\n"
         "const runs = installRunHandlers(rpc, { pyodide: () => pyodide, sessionOf });\n")),
        ("  sessions.set(agentId, session);\n",
         ("  sessions.set(agentId, session);\n"
         "  await runs.attach(session, options);\n")),
        ('rpc.handle("run", async ({ agentId, task, reset = true }) => {',
         'rpc.handle("run", async ({ agentId, task, reset = true, resume = null }) => {'),
        ("  return JSON.parse(await session.run(task, emit, reset));",
         "  return runs.run(session, { task, reset, resume }, emit);"),
    ],
    "agent-client.js": [
        ('import { loadSandboxAssets, openSandboxFrame } from "./sandbox-frame.js";\n',
         ('import { loadSandboxAssets, openSandboxFrame } from "./sandbox-frame.js";\n'
         'import { addRunMethods } from "./runs-api.js";\n')),
        ("  #running = null;\n",
         ("  #running = null;\n"
         "  static { addRunMethods(this, (agent) => agent.#rpc); }\n")),
        ("async *stream(task, { reset = true } = {}) {",
         "async *stream(task, { reset = true, resume = null } = {}) {"),
        ("{ agentId: this.id, task, reset }", "{ agentId: this.id, task, reset, resume }"),
    ],
    "app.js": [
        ('import { createAgent, enableOffline, startRuntime } from "./wasm-agent.js";\n',
         ('import { createAgent, enableOffline, startRuntime } from "./wasm-agent.js";\n'
         'import { mountRunHistory } from "./history.js";\n')),
        ('const view = new ChatView($("#log"));\n',
         ('const view = new ChatView($("#log"));\n'
         'mountRunHistory({\n'
         '  button: $("#open-history"),\n'
         '  rpc: () => startRuntime().then(({ rpc }) => rpc),\n'
         '  modelId: () => state.settings.model || undefined,\n'
         '  onResume: (runId, run, { replay } = {}) => runTask(`Resume “${run.title}”`, { resume: { runId, replay } }),\n'
         '});\n')),
        ("async function runTask(task) {", "async function runTask(task, { resume = null } = {}) {"),
        ("for await (const event of agent.stream(task)) view.handle(event);",
         "for await (const event of agent.stream(resume ? null : task, { resume })) view.handle(event);"),
    ],
    "index.html": [
        ('<button id="open-settings" class="btn" type="button" aria-haspopup="dialog">Model settings</button>',
         ('<button id="open-history" class="btn" type="button">Runs</button>\n'
         '      <button id="open-settings" class="btn" type="button" aria-haspopup="dialog">Model settings</button>')),
    ],
}
MARKERS = {"agent.worker.js": "installRunHandlers", "agent-client.js": "addRunMethods", "app.js": "mountRunHistory",
           "index.html": 'id="open-history"'}


def integrate(dist: Path, out: Path) -> Path:
    """A copy of `dist` at `out` whose worker and client save and resume runs."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(dist, out, copy_function=_link)
    for name, edits in INTEGRATION.items():
        path = out / name
        text = path.read_text()
        if MARKERS[name] in text:
            continue  # the site has the integration already
        for anchor, replacement in edits:
            if text.count(anchor) != 1:
                raise AssertionError(f"{name} changed: the integration anchor {anchor!r} is not there once; "
                                     "update tests/e2e/runs_site.py and docs/runs.md")
            text = text.replace(anchor, replacement)
        path.unlink()  # a hard link to the build: write a file of our own
        path.write_text(text)
    return out


def _link(source: str, target: str) -> None:
    try:
        Path(target).hardlink_to(source)
    except OSError:
        shutil.copy2(source, target)
