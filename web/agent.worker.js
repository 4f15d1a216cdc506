// The agent worker: Pyodide with the wasm_agent wheel runs the agent loop
// here, off the page's thread. It owns the model clients (fetch), the API
// keys and the Python tools; generated code never runs here but in the
// sandbox, whose MessagePort the page hands over (an iframe can only be made
// by a page). Everything goes through web/rpc.js:
//
//   page → worker  boot                     load Pyodide + the wheel
//                  attach_sandbox {port}    drive the sandbox the page opened (or {error})
//                  replace_sandbox_port {port}  a new frame, after the sandbox reported `lost`
//                  create {options}         make an agent (JS tools come as specs without fn)
//                  run {agentId, task}      run it; events come back as "event" notifications
//                  interrupt {agentId}      close {agentId}
//   worker → page  progress {stage, …}      notifications while loading
//                  event {agentId, event}   one stream event of a run (JSON text)
//                  call_tool {agentId, name, kwargs}  a JS tool, run in the page

import { RpcChannel } from "./rpc.js";
import { SandboxClient } from "./sandbox-client.js";
import { installRunHandlers } from "./runs-api.js";
import { answerToolCall as answerWithSession, installImports, startAgentPython } from "./agent-python.js";

const SITE = new URL(".", import.meta.url); // the built site's folder: build.json, pyodide/
const rpc = new RpcChannel(self, { defaultTimeoutMs: null });
const progress = (stage, detail = {}) => rpc.notify("progress", { stage, ...detail });

let pyodide = null;
let module = null; // wasm_agent.platform.browser_agent
let sandbox = null; // SandboxClient, or null when the page could not start the sandbox
let sandboxProblem = "";
const sessions = new Map();
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
  await publishBrowserModel({
    modelUrl, file,
    onProgress: ({ phase, loaded, total }) => phase in phases && progress("model", { message: phases[phase], loaded, total }),
  });
  progress("ready", { message: "In-browser model ready" });
}

rpc.handle("attach_sandbox", async ({ port = null, error = "", timeoutMs = 30_000, bootMs = 120_000 }) => {
  const started = performance.now();
  if (!port) {
    sandboxProblem = error || "the page did not start a sandbox";
    return { sandbox: null, sandboxProblem };
  }
  sandbox = new SandboxClient(port, {
    timeoutMs,
    onToolCall: answerToolCall,
    wireValues: true, // Python runs the tools and reads the results: it reads the markers
    onEvent: (event) => rpc.notify("sandbox", { type: event.type, reason: event.reason ?? null }),
  });
  try {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`it did not start within ${bootMs / 1000} s`)), bootMs);
    });
    await Promise.race([sandbox.ready(), timeout]).finally(() => clearTimeout(timer));
  } catch (failure) {
    sandboxProblem = failure.message;
    sandbox = null;
  }
  return { sandbox: sandbox ? { ...sandbox.info, type: undefined } : null, sandboxProblem,
    sandboxMs: performance.now() - started };
});

// The page opened a new sandbox frame after this one's reported `lost` (its process ended).
rpc.handle("replace_sandbox_port", ({ port }) => {
  if (!sandbox) throw new Error("there is no sandbox to give a new frame to");
  sandbox.attach(port);
  return true;
});

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
  if (wantsCode && !sandbox) {
    throw Object.assign(new Error(`Code execution is unavailable: the sandbox did not start (${sandboxProblem}). `
      + "Generated code never runs outside the sandbox."), { name: "ExecutorUnavailableError" });
  }
  if (wantsCode) await installImports(pyodide, sandbox, SITE, options.additionalAuthorizedImports ?? []);
  if (options.model?.provider === "browser") await loadBrowserModel(options.model);
  const session = module.AgentSession(JSON.stringify(options), callPageTool, wantsCode ? sandbox : null);
  sessions.set(agentId, session);
  await runs.attach(session, options);
  return { agentId };
});

rpc.handle("run", async ({ agentId, task, reset = true, resume = null }) => {
  const session = sessionOf(agentId);
  const emit = (json) => rpc.notify("event", { agentId, event: json });
  return runs.run(session, { task, reset, resume }, emit);
});

rpc.handle("interrupt", ({ agentId }) => {
  sessionOf(agentId).interrupt();
  return true;
});

rpc.handle("close", async ({ agentId }) => {
  const session = sessions.get(agentId);
  if (!session) return false;
  sessions.delete(agentId);
  await session.close();
  session.destroy();
  return true;
});

function sessionOf(agentId) {
  const session = sessions.get(agentId);
  if (!session) throw new Error(`no agent ${agentId} (closed?)`);
  return session;
}

// A tool call from generated code: the session of the running agent answers it (in Python).
async function answerToolCall(name, args, kwargs) {
  const session = [...sessions.values()].find((candidate) => candidate.executor != null && candidate.emit != null);
  if (!session) throw new Error("no agent is running");
  return answerWithSession(session, name, args, kwargs);
}

rpc.notify("loaded");
