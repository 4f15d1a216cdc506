// The agent worker: Pyodide with the wasm_agent wheel runs the agent loop
// here, off the page's thread. It owns the model clients (fetch), the API
// keys and the Python tools; generated code never runs here but in a
// sandbox, whose MessagePort the page hands over (an iframe can only be made
// by a page). Each code agent has a sandbox of its own, like each smolagents
// agent has its own executor: the page opens the first one at boot, and more
// when more code agents are made. Everything goes through web/rpc.js:
//
//   page → worker  boot                     load Pyodide + the wheel
//                  attach_sandbox {sandboxId, port}  drive the sandbox the page opened (or {error})
//                  replace_sandbox_port {sandboxId, port}  a new frame, after that sandbox reported `lost`
//                  create {options}         make an agent (JS tools come as specs without fn)
//                  run {agentId, task}      run it; events come back as "event" notifications
//                  interrupt {agentId}      close {agentId}
//                  mcp.tools {url, headers} → {tools: [{name, description}]} | {error}  (for settings pages)
//                  tools.check {source} → {tools: [names], problems: [{line, message, severity}]}  (an editor's check)
//                  tools.check {specs} → [problem or null]  (JS tool specs without fn)
//   worker → page  progress {stage, …}      notifications while loading
//                  event {agentId, event}   one stream event of a run (JSON text)
//                  call_tool {agentId, name, kwargs}  a JS tool, run in the page
//                  open_sandbox → {sandboxId, port}   another sandbox, for another code agent
//                  sandbox {sandboxId, type, reason}  its events (lost: the page replaces its frame)
//                  sandbox_closed {sandboxId}         the page removes that frame

import { RpcChannel } from "./rpc.js";
import { SandboxClient } from "./sandbox-client.js";
import { installRunHandlers } from "./runs-api.js";
import { answerToolCall as answerWithSession, installImports, startAgentPython } from "./agent-python.js";

const SITE = new URL(".", import.meta.url); // the built site's folder: build.json, pyodide/
const rpc = new RpcChannel(self, { defaultTimeoutMs: null });
const progress = (stage, detail = {}) => rpc.notify("progress", { stage, ...detail });

let pyodide = null;
let module = null; // wasm_agent.platform.browser_agent
const sandboxes = new Map(); // sandboxId -> {client: SandboxClient, session: the AgentSession using it, or null}
let firstSandboxId = null; // opened at boot and kept (reset) between the agents that use it
let sandboxProblem = ""; // why the page could not start a sandbox, if it could not
const SANDBOX_BOOT_MS = 120_000;
const sessions = new Map();
const sandboxOf = new Map(); // AgentSession -> its sandbox entry
let nextAgentId = 1;
const runs = installRunHandlers(rpc, { pyodide: () => pyodide, sessionOf });

// Python loads while the page fetches the sandbox's files and opens its frame: the two overlap.
rpc.handle("boot", async () => {
  const started = performance.now();
  const python = await startAgentPython(SITE, { progress });
  pyodide = python.pyodide;
  const installed = performance.now();
  module = pyodide.pyimport("wasm_agent.platform.browser_agent");
  return { pyodideVersion: pyodide.version, pythonMs: performance.now() - started,
    pythonPhasesMs: { ...python.phasesMs, import: Math.round(performance.now() - installed) },
    pythonSnapshot: python.snapshot,
    crossOriginIsolated: self.crossOriginIsolated === true };
});

/**
 * The in-browser model (docs/browser-model.md) runs here, next to Pyodide: loaded (or reused) and
 * published for `wasm_agent.models.browser.BrowserModel` before the agent is made.
 * `model.modelUrl` or `model.file` (a File from a picker) choose another GGUF than the site's.
 */
async function loadBrowserModel({ modelUrl, file }) {
  const { publishBrowserModel } = await import("./browser-model.js");
  const phases = { download: "Downloading the in-browser model", load: "Loading the in-browser model" };
  const model = await publishBrowserModel({
    modelUrl, file,
    onProgress: ({ phase, loaded, total }) => phase in phases && progress("model", { message: phases[phase], loaded, total }),
  });
  // Reading a long prompt takes seconds before the first token: the running agent's view says so.
  model.onPromptProgress = ({ processed, total, cached }) =>
    promptWatcher?.(JSON.stringify({ type: "prompt_progress", processed, total, cached }));
  progress("ready", { message: "In-browser model ready" });
}

/** Drive the sandbox behind `port`; its tool calls are answered by the session that uses it. */
function addSandbox(sandboxId, port) {
  const entry = { sandboxId, client: null, session: null };
  // No default time limit here: every run brings its agent's own (BrowserSandboxExecutor).
  entry.client = new SandboxClient(port, {
    onToolCall: (name, args, kwargs) => {
      if (!entry.session || entry.session === TAKEN) throw new Error("no agent uses this sandbox yet");
      return answerWithSession(entry.session, name, args, kwargs);
    },
    wireValues: true, // Python runs the tools and reads the results: it reads the markers
    onEvent: (event) => rpc.notify("sandbox", { sandboxId, type: event.type, reason: event.reason ?? null }),
  });
  sandboxes.set(sandboxId, entry);
  return entry;
}

rpc.handle("attach_sandbox", async ({ sandboxId = 1, port = null, error = "" }) => {
  const started = performance.now();
  if (!port) {
    sandboxProblem = error || "the page did not start a sandbox";
    return { sandbox: null, sandboxProblem };
  }
  const entry = addSandbox(sandboxId, port);
  try {
    await entry.client.ready({ timeoutMs: SANDBOX_BOOT_MS });
    firstSandboxId = sandboxId;
  } catch (failure) {
    sandboxProblem = failure.message;
    sandboxes.delete(sandboxId);
    entry.client.close();
  }
  return { sandbox: firstSandboxId != null ? { ...entry.client.info, type: undefined } : null, sandboxProblem,
    sandboxMs: performance.now() - started };
});

// The page opened a new frame for a sandbox that reported `lost` (its process ended).
rpc.handle("replace_sandbox_port", ({ sandboxId = 1, port }) => {
  const entry = sandboxes.get(sandboxId);
  if (!entry) throw new Error(`there is no sandbox ${sandboxId} to give a new frame to`);
  entry.client.attach(port);
  return true;
});

const TAKEN = {}; // the session of a sandbox whose agent is being made

/** A sandbox for a new code agent: the boot one when no agent uses it, else a new one from the page. */
async function takeSandbox() {
  const first = sandboxes.get(firstSandboxId);
  if (first && !first.session) {
    first.session = TAKEN; // at once: another create must not get it meanwhile
    return first;
  }
  const { sandboxId, port, error } = await rpc.request("open_sandbox", {}, { timeoutMs: 180_000 });
  if (!port) throw new Error(error || "the page could not open another sandbox");
  const entry = addSandbox(sandboxId, port);
  entry.session = TAKEN;
  await entry.client.ready({ timeoutMs: SANDBOX_BOOT_MS }).catch((failure) => {
    releaseSandbox(entry);
    throw failure;
  });
  return entry;
}

/**
 * An agent is done with its sandbox: the boot one is reset for the next agent (without this one's
 * packages: the next may not be authorized to import them), others are closed.
 */
function releaseSandbox(entry) {
  entry.session = null;
  if (entry.sandboxId === firstSandboxId) {
    entry.client.reset({ packages: false }).catch(() => {});
    return;
  }
  sandboxes.delete(entry.sandboxId);
  entry.client.close();
  rpc.notify("sandbox_closed", { sandboxId: entry.sandboxId });
}

rpc.handle("create", async ({ options }) => {
  const agentId = nextAgentId++;
  const callPageTool = async (name, kwargsJson) => {
    try {
      const value = await rpc.request("call_tool", { agentId, name, kwargs: JSON.parse(kwargsJson) }, { timeoutMs: null });
      return JSON.stringify({ ok: true, value: value ?? null });
    } catch (error) {
      return JSON.stringify({ ok: false, error: error.message });
    }
  };
  const wantsCode = (options.agentType ?? "code") === "code";
  if (wantsCode && firstSandboxId == null) {
    throw Object.assign(new Error(`Code execution is unavailable: the sandbox did not start (${sandboxProblem}). `
      + "Generated code never runs outside the sandbox."), { name: "ExecutorUnavailableError" });
  }
  const entry = wantsCode ? await takeSandbox() : null;
  let session;
  let mcp = null;
  try {
    if (entry) await installImports(pyodide, entry.client, SITE, options.additionalAuthorizedImports ?? []);
    if (options.model?.provider === "browser") await loadBrowserModel(options.model);
    mcp = await openMcpServers(options.mcpServers);
    session = module.AgentSession(JSON.stringify(options), callPageTool, entry ? entry.client : null, mcp ?? undefined);
  } catch (error) {
    if (entry) releaseSandbox(entry);
    if (mcp && !session) await mcp.adisconnect().catch(() => {});
    throw error;
  } finally {
    mcp?.destroy(); // the session holds the client now (or nobody does)
  }
  if (entry) {
    entry.session = session;
    sandboxOf.set(session, entry);
  }
  sessions.set(agentId, session);
  await runs.attach(session, options);
  return { agentId };
});

/** The MCP servers of `createAgent({mcpServers})`, connected and listed (a Python MCPClient), or null. */
async function openMcpServers(servers) {
  if (!servers?.length) return null;
  progress("mcp", { message: `Connecting to ${servers.length} MCP server${servers.length > 1 ? "s" : ""}` });
  try {
    return await module.open_mcp_servers(JSON.stringify(servers));
  } catch (error) {
    throw Object.assign(new Error(pythonMessage(error)), { name: error.type ?? "MCPError" });
  } finally {
    progress("ready", { message: "Agent ready" });
  }
}

/** A Python exception's own message, without the traceback a PythonError carries. */
function pythonMessage(error) {
  const last = String(error?.message ?? error).trim().split("\n").at(-1);
  return error?.type && last.startsWith(`${error.type}: `) ? last.slice(error.type.length + 2) : last;
}

// A tools module ({source}) or JS tool specs ({specs}), checked with the rules the agent applies.
rpc.handle("tools.check", ({ source, specs }) => {
  const checks = pyodide.pyimport("wasm_agent.tools.source");
  const toJson = pyodide.pyimport("json").dumps;
  return JSON.parse(toJson(specs ? checks.check_tool_specs(pyodide.toPy(specs)) : checks.check_tool_source(source)));
});

// A playground project's site.json and tool files, by path: what `build --config project.json` writes.
rpc.handle("site.files", ({ project }) => {
  const json = pyodide.pyimport("json");
  return JSON.parse(json.dumps(pyodide.pyimport("wasm_agent.site_config").project_site_files(json.loads(JSON.stringify(project)))));
});

rpc.handle("mcp.tools", async (server) => JSON.parse(await module.mcp_server_tools(JSON.stringify(server))));

const running = new Map(); // AgentSession -> the promise of its run under way
let promptWatcher = null; // the `emit` of the run under way: the in-browser model's prompt progress goes there

rpc.handle("run", async ({ agentId, task, reset = true, resume = null }) => {
  const session = sessionOf(agentId);
  const emit = (json) => rpc.notify("event", { agentId, event: json });
  const run = runs.run(session, { task, reset, resume }, emit);
  running.set(session, run);
  promptWatcher = emit;
  try {
    return await run;
  } finally {
    if (running.get(session) === run) running.delete(session);
    if (promptWatcher === emit) promptWatcher = null;
  }
});

rpc.handle("interrupt", ({ agentId }) => {
  sessionOf(agentId).interrupt();
  return true;
});

rpc.handle("close", async ({ agentId }) => {
  const session = sessions.get(agentId);
  if (!session) return false;
  sessions.delete(agentId);
  // A run under way stops first: its code must not go on in a sandbox handed to the next agent,
  // nor its loop call the model with nobody listening.
  const run = running.get(session);
  if (run) {
    session.interrupt();
    await run.catch(() => {});
  }
  await session.close();
  const entry = sandboxOf.get(session);
  sandboxOf.delete(session);
  if (entry) releaseSandbox(entry);
  session.destroy();
  return true;
});

function sessionOf(agentId) {
  const session = sessions.get(agentId);
  if (!session) throw new Error(`no agent ${agentId} (closed?)`);
  return session;
}

rpc.notify("loaded");
