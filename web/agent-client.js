// The page side of the JS API (DESIGN §5): one agent worker per page, shared
// by every agent the page creates, and one sandbox (frame) per code agent.
//
//   import { createAgent } from "./wasm-agent.js";
//   const agent = await createAgent({ model: { provider: "openai", baseUrl, apiKey, model }, tools: [...] });
//   const { output, state, steps, tokenUsage } = await agent.run("task");
//   for await (const event of agent.stream("task")) { … }
//   agent.interrupt(); await agent.close();

import { RpcChannel, withTransfer } from "./rpc.js";
import { loadSandboxAssets, openSandboxFrame } from "./sandbox-frame.js";
import { addRunMethods } from "./runs-api.js";

// Where the runtime's files are (agent worker, sandbox page, pyodide/): next to this module, unless a page
// whose bundler moved this module names their folder with `assetsUrl` (see `npx wasm-agent copy-assets`).
let BASE = new URL(".", import.meta.url);
let runtime = null; // Promise<{rpc, info}>
const progressListeners = new Set();
const toolsByAgent = new Map();

/**
 * @typedef {object} Progress
 * @property {string} stage    "site" | "python" | "wheel" | "sandbox" | "ready"
 * @property {string} message  what is happening, for people
 * @property {number} [loaded] bytes so far (when known)
 * @property {number} [total]
 */

function report(progress) {
  for (const fn of progressListeners) fn(progress);
}

function useAssetsUrl(assetsUrl) {
  if (!assetsUrl || runtime) return;
  BASE = new URL(assetsUrl, globalThis.location?.href);
  if (!BASE.pathname.endsWith("/")) BASE.pathname += "/";
}

/** Start (once per page) the agent worker and the sandbox; resolves with what they report. */
export function startRuntime({ onProgress, assetsUrl } = {}) {
  if (onProgress) progressListeners.add(onProgress);
  useAssetsUrl(assetsUrl);
  runtime ??= boot();
  runtime.catch(() => { runtime = null; });
  return runtime;
}

/**
 * The agent worker. A page may load this module from another origin (a hosted copy of the site), and a
 * worker cannot be started from another origin's URL: then a `blob:` module of this page's origin
 * imports it (the site's host must allow that with CORS headers; docs/site.md).
 */
function startWorker() {
  const url = new URL("agent.worker.js", BASE);
  if (url.origin === globalThis.location?.origin) return new Worker(url, { type: "module", name: "wasm-agent" });
  const bootstrap = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};`], { type: "text/javascript" }));
  const worker = new Worker(bootstrap, { type: "module", name: "wasm-agent" });
  setTimeout(() => URL.revokeObjectURL(bootstrap), 60_000);
  return worker;
}

/** What a page on another origin must know when the site's files did not come (CORS, most likely). */
function crossOriginHint() {
  if (BASE.origin === globalThis.location?.origin) return "";
  return ` — this page (${location.origin}) loads wasm-agent from ${BASE.origin}: that host must send `
    + "Access-Control-Allow-Origin and Cross-Origin-Resource-Policy: cross-origin for the site's files "
    + "(`python -m wasm_agent serve` does), or copy the site into this page's origin (docs/site.md)";
}

function boot() {
  return startAgentWorker().catch((error) => {
    throw Object.assign(new Error(error.message + crossOriginHint()), { name: error.name });
  });
}

async function startAgentWorker() {
  const started = performance.now();
  const worker = startWorker();
  const rpc = new RpcChannel(worker, { defaultTimeoutMs: 30_000 });
  rpc.on("progress", report);
  rpc.on("sandbox", (event) => {
    if (event.type === "crashed" || event.type === "restarted") console.warn(`sandbox ${event.type}: ${event.reason}`);
    if (event.type === "lost") replaceFrame(rpc, event.sandboxId);
  });
  rpc.on("sandbox_closed", ({ sandboxId }) => closeFrame(sandboxId));
  // Another code agent: a sandbox of its own.
  rpc.handle("open_sandbox", async () => {
    const sandboxId = nextSandboxId++;
    const { port, error } = await openSandbox(sandboxId);
    return port ? withTransfer({ sandboxId, port }, [port]) : { sandboxId, port: null, error };
  });
  rpc.handle("call_tool", ({ agentId, name, kwargs }) => {
    const tool = toolsByAgent.get(agentId)?.get(name);
    if (!tool) throw new Error(`the page has no tool ${name}`);
    return tool.fn(kwargs);
  });
  const python = rpc.request("boot", {}, { timeoutMs: 180_000 });
  python.catch(() => {});
  report({ stage: "sandbox", message: "Loading Python and the code sandbox" });
  const sandboxId = nextSandboxId++;
  const { port, error } = await openSandbox(sandboxId);
  const sandbox = await rpc.request("attach_sandbox", { sandboxId, port, error },
    { timeoutMs: 180_000, transfer: port ? [port] : [] });
  if (!sandbox.sandbox) closeFrame(sandboxId); // it did not start: the page says why, and keeps no frame
  const info = { ...(await python), ...sandbox };
  info.readyMs = performance.now() - started;
  report({ stage: "ready", message: info.sandbox ? "Agent ready" : "Agent ready, but code execution is unavailable", info });
  return { rpc, info };
}

/**
 * The sandbox's document stopped answering (its process ended: Chromium gives a sandboxed frame its own
 * process, so generated code exhausting its memory takes down only that): a new frame takes over.
 */
async function replaceFrame(rpc, sandboxId) {
  const { port, error } = await openSandbox(sandboxId);
  if (!port) return console.warn(`the sandbox could not be replaced: ${error}`);
  await rpc.request("replace_sandbox_port", { sandboxId, port }, { transfer: [port] }).catch((failure) => {
    closeFrame(sandboxId); // its agent closed meanwhile: nobody will drive this frame
    console.warn(`the sandbox could not be replaced: ${failure.message}`);
  });
}

const frames = new Map(); // sandboxId -> the frame from openSandboxFrame
let nextSandboxId = 1;

function closeFrame(sandboxId) {
  frames.get(sandboxId)?.destroy();
  frames.delete(sandboxId);
}

let sandboxFiles = null; // Promise<{assets, html}>: fetched once per page, for every frame

/** What every sandbox frame of the page starts from: the boot files and sandbox.html's text. */
function loadSandboxFiles() {
  if (sandboxFiles) return sandboxFiles;
  sandboxFiles = (async () => {
    const manifest = await fetch(new URL("build.json", BASE)).then((response) => response.json());
    const assets = await loadSandboxAssets({ base: BASE.href, pyodide: "pyodide/", wheel: manifest.wheel,
      snapshot: manifest.sandboxSnapshot ?? undefined });
    const page = await fetch(assets.frameUrl);
    if (!page.ok) throw new Error(`${assets.frameUrl} could not be loaded: HTTP ${page.status}`);
    return { assets, html: await page.text() };
  })();
  sandboxFiles.catch(() => { sandboxFiles = null; }); // a failure is not kept: the next frame tries again
  return sandboxFiles;
}

/** A sandbox's frame and the port that drives it, or the reason there is none. Replaces the sandbox's last frame. */
async function openSandbox(sandboxId) {
  try {
    const { assets, html } = await loadSandboxFiles();
    // The iframe gets sandbox.html as a blob: URL made from the text the page fetched: a sandboxed
    // (opaque-origin) frame's own navigation bypasses the service worker, so offline it would not load.
    const frameUrl = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    // A warm spare (a second booted worker, for instant restarts) for the boot sandbox only: each one
    // holds a Pyodide, and pages with several code agents would pay that memory for each.
    const frame = await openSandboxFrame({ assets: { ...assets, frameUrl }, spare: sandboxId === 1, maxMemoryMb: 1024 });
    URL.revokeObjectURL(frameUrl);
    frames.get(sandboxId)?.destroy();
    frames.set(sandboxId, frame);
    return { port: frame.port, error: "" };
  } catch (error) {
    return { port: null, error: error.message };
  }
}

/** Tool specs for the worker: everything but `fn`. */
function toolSpecs(tools = []) {
  return tools.map(({ name, description, inputs = {}, outputType = "any" }) => {
    if (!name || !description) throw new TypeError("a JS tool needs a name and a description");
    return { name, description, inputs, outputType };
  });
}

/**
 * Create an agent whose loop runs in the agent worker and whose code runs in the sandbox.
 * @param {object} options
 * @param {{provider: string, model?: string, baseUrl?: string, apiKey?: string, responses?: string[],
 *          modelUrl?: string, file?: File}} options.model  (`modelUrl`/`file`: another GGUF for provider "browser")
 * @param {"code" | "toolcalling"} [options.agentType]
 * @param {{name: string, description: string, inputs?: object, outputType?: string, fn: Function}[]} [options.tools]
 * @param {string[]} [options.pythonTools]  Python sources whose @tool functions become tools (run in the worker)
 * @param {{url: string, headers?: Record<string, string>}[]} [options.mcpServers]  MCP servers (Streamable HTTP)
 *   whose tools the agent gets; they are called from the agent worker, and must allow this page's origin (CORS)
 * @param {(string | {name: string, [option: string]: any})[]} [options.builtinTools]  "wikipedia_search",
 *   "visit_webpage" (option corsProxy: "https://proxy/?url={url}"), "web_search" (option endpoint: "https://…?q={query}")
 * @param {(question: string) => string | Promise<string>} [options.onUserInput]  gives the agent the tool
 *   `user_input(question)`; its answer (or rejection) is what the model's code gets
 * @param {number} [options.maxSteps]
 * @param {number} [options.planningInterval]  a planning step before step 1 and every that many steps
 * @param {number} [options.timeoutSeconds]  wall time of one code step (default 30)
 * @param {string} [options.instructions]
 * @param {(progress: Progress) => void} [options.onProgress]
 * @param {string} [options.assetsUrl]  the folder of the runtime's files, when not next to this module
 */
export async function createAgent(options) {
  const { onProgress, assetsUrl, tools = [], onUserInput, ...rest } = options;
  const { rpc, info } = await startRuntime({ onProgress, assetsUrl });
  const specs = toolSpecs(tools);
  const { agentId } = await rpc.request("create", { options: { ...rest, tools: specs, userInput: Boolean(onUserInput) } },
    { timeoutMs: null }); // MCP servers have their own time limits
  const pageTools = new Map(tools.map((tool) => [tool.name, tool]));
  // The worker's UserInputTool asks through here (wasm_agent/platform/browser_agent.py).
  if (onUserInput) pageTools.set(USER_INPUT, { fn: ({ question }) => onUserInput(question) });
  toolsByAgent.set(agentId, pageTools);
  return new Agent(rpc, agentId, info);
}

const USER_INPUT = "user_input";

/**
 * Check a Python tools module as the agent would build it (wasm_agent/tools/source.py), in the agent
 * worker: `{tools: [names], problems: [{line, message, severity: "error"|"warning"}]}`.
 * @param {string} source
 */
export async function checkPythonTools(source) {
  const { rpc } = await startRuntime();
  return rpc.request("tools.check", { source }, { timeoutMs: 10_000 });
}

/**
 * Check JS tools' specs (`{name, description, inputs, outputType}`) as the agent would make them:
 * one problem (a message) or null per spec.
 */
export async function checkToolSpecs(tools) {
  const { rpc } = await startRuntime();
  return rpc.request("tools.check", { specs: tools.map(({ name, description, inputs, outputType }) =>
    JSON.parse(JSON.stringify({ name, description, inputs, outputType }))) }, { timeoutMs: 10_000 });
}

/**
 * The site.json and tool files (by path in the site) of a playground project, made in the agent worker by
 * wasm_agent/site_config.py: the same bytes `wasm-agent build --config project.json` writes.
 * @param {object} project  a project (web/playground/project.js)
 * @returns {Promise<Record<string, string>>}
 */
export async function projectSiteFiles(project) {
  const { rpc } = await startRuntime();
  return rpc.request("site.files", { project }, { timeoutMs: 10_000 });
}

/**
 * The tools of an MCP server, for a settings page: `{tools: [{name, description}]}`, or `{error}`
 * saying why it cannot be used from this page (unreachable, no CORS, credentials refused).
 * @param {{url: string, headers?: Record<string, string>}} server
 */
export async function listMcpTools(server) {
  const { rpc } = await startRuntime();
  return rpc.request("mcp.tools", server, { timeoutMs: null });
}

export class Agent {
  #rpc;
  #running = null;
  static { addRunMethods(this, (agent) => agent.#rpc); }

  constructor(rpc, agentId, info) {
    this.#rpc = rpc;
    this.id = agentId;
    this.info = info; // what the runtime reported: sandbox bridge, timings, problems
  }

  /** Run a task to its end: `{output, state, steps, tokenUsage, error?}`. */
  async run(task, options = {}) {
    for await (const _ of this.stream(task, options)); // eslint-disable-line no-unused-vars
    return this.lastResult;
  }

  /**
   * The run's events as they happen: {type: "delta" | "tool_call" | "tool_use" | "tool_output" | "step" |
   * "planning" | "final_answer" | "result", …}; the last one is the result.
   */
  async *stream(task, { reset = true, resume = null } = {}) {
    if (this.#running) throw new Error("this agent is already running a task; await it or interrupt() it");
    const queue = [];
    let wake = null;
    const push = (item) => {
      queue.push(item);
      wake?.();
    };
    const off = this.#rpc.on("event", ({ agentId, event }) => agentId === this.id && push({ event: JSON.parse(event) }));
    const offDied = this.#rpc.on("died", (error) => push({ error }));
    this.#running = this.#rpc.request("run", { agentId: this.id, task, reset, resume }, { timeoutMs: null }).then(
      (result) => push({ result }), (error) => push({ error }));
    try {
      for (;;) {
        if (!queue.length) await new Promise((resolve) => { wake = resolve; });
        wake = null;
        const item = queue.shift();
        if (item.error) throw item.error;
        if (item.result) {
          this.lastResult = item.result;
          yield { type: "result", ...item.result };
          return;
        }
        yield item.event;
      }
    } finally {
      off();
      offDied();
      this.#running = null;
    }
  }

  /** Stop the running task (the code in the sandbox too); the agent stays usable. */
  interrupt() {
    return this.#rpc.request("interrupt", { agentId: this.id }).catch(() => false);
  }

  async close() {
    toolsByAgent.delete(this.id);
    await this.#rpc.request("close", { agentId: this.id }).catch(() => false);
  }
}

/**
 * Serve the site from the service worker, so that later visits work offline.
 * On the first visit it resolves once the worker has cached the site and
 * controls the page (so that Pyodide is downloaded once, into that cache).
 */
export async function enableOffline({ onProgress, assetsUrl } = {}) {
  useAssetsUrl(assetsUrl);
  if (!("serviceWorker" in navigator) || !isSecureContext) return false;
  if (onProgress) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data?.kind === "precache") onProgress(event.data);
    });
  }
  // The build's version in the worker's URL: a new build is a new service worker, which caches it.
  const manifest = await fetch(new URL("build.json", BASE), { cache: "no-store" }).then((r) => r.json()).catch(() => null);
  const script = new URL("sw.js", BASE);
  if (manifest?.version) script.searchParams.set("v", manifest.version);
  let registration;
  try {
    registration = await navigator.serviceWorker.register(script, { scope: BASE.pathname });
  } catch (error) {
    console.warn(`offline use is off: ${error.message}`);
    return false;
  }
  if (navigator.serviceWorker.controller) return true;
  const installing = registration.installing ?? registration.waiting;
  await new Promise((resolve) => {
    navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true });
    installing?.addEventListener("statechange", () => installing.state === "redundant" && resolve());
    if (!installing && registration.active) resolve();
  });
  return Boolean(navigator.serviceWorker.controller);
}
