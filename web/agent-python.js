// The agent's Python: Pyodide with the wasm_agent wheel of a built site (dist/), started from the
// site's memory snapshot when it has one. The browser's agent worker (web/agent.worker.js) and
// the agent in Deno (deno/agent.js) start it, and answer the sandbox's tool calls, the same way.

import { fetchWheel } from "./sandbox-wheel.js";

/**
 * @typedef {object} AgentPython
 * @property {object} pyodide
 * @property {boolean} snapshot  started from the build's memory snapshot (else cold)
 * @property {{pyodide: number, wheel: number}} phasesMs
 */

/**
 * Start Pyodide and install the wasm_agent wheel.
 * @param {URL} siteUrl  the built site's folder (build.json, pyodide/)
 * @param {object} [options]
 * @param {(stage: string, detail: object) => void} [options.progress]
 * @param {(text: string) => void} [options.stderr]
 * @returns {Promise<AgentPython>}
 */
export async function startAgentPython(siteUrl, { progress = () => {}, stderr = (text) => console.warn(text) } = {}) {
  const started = performance.now();
  progress("python", { message: "Starting Python (Pyodide)" });
  const { pyodide, snapshot } = await loadPython(siteUrl, stderr);
  const loaded = performance.now();
  progress("wheel", { message: "Installing wasm_agent" });
  if (snapshot) await installFromLock(pyodide, siteUrl, "wasm-agent");
  else await pyodide.loadPackage("wasm-agent", { messageCallback: () => {}, errorCallback: stderr });
  const ms = (a, b) => Math.round(b - a);
  return { pyodide, snapshot, phasesMs: { pyodide: ms(started, loaded), wheel: ms(loaded, performance.now()) } };
}

/** Load Pyodide, from the build's memory snapshot when there is one, else cold. */
async function loadPython(siteUrl, stderr) {
  const pyodideUrl = new URL("pyodide/", siteUrl);
  const { loadPyodide } = await import(new URL("pyodide.mjs", pyodideUrl).href);
  // Outside a browser (Deno) Pyodide reads its files with the runtime's fs: it wants a path there.
  const indexURL = pyodideUrl.protocol === "file:" ? decodeURIComponent(pyodideUrl.pathname) : pyodideUrl.href;
  const options = { indexURL, stdout: () => {}, stderr };
  const manifest = await siteText(siteUrl, "build.json").then(JSON.parse).catch(() => ({}));
  if (manifest.agentSnapshot) {
    try {
      const response = await fetch(new URL(manifest.agentSnapshot, siteUrl));
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      return { pyodide: await loadPyodide({ ...options, _loadSnapshot: bytes }), snapshot: true };
    } catch (error) {
      stderr(`the agent's memory snapshot could not be used (${error.message}); starting Python cold`);
    }
  }
  return { pyodide: await loadPyodide(options), snapshot: false };
}

const siteTexts = new Map(); // URL of a site's file -> Promise of its text, read once

/** The text of a file of the site (pyodide/pyodide-lock.json, build.json…), fetched once per page. */
function siteText(siteUrl, path) {
  const key = new URL(path, siteUrl).href;
  if (!siteTexts.has(key)) {
    const text = fetch(key).then((response) => response.text());
    text.catch(() => siteTexts.delete(key));
    siteTexts.set(key, text);
  }
  return siteTexts.get(key);
}

const siteLock = (siteUrl) => siteText(siteUrl, "pyodide/pyodide-lock.json");

/**
 * Install a wheel of our lock file by hand, checking its sha256: Pyodide's loadPackage does not
 * finish in an interpreter restored from a memory snapshot (Pyodide 314).
 */
async function installFromLock(pyodide, siteUrl, name) {
  const base = new URL("pyodide/", siteUrl);
  const entry = JSON.parse(await siteLock(siteUrl)).packages[name];
  pyodide.unpackArchive(await fetchWheel(new URL(entry.file_name, base).href, entry.sha256), "wheel");
}

const PACKAGE_CACHE = "pyodide-packages"; // Cache Storage: wheels of a package distribution

/**
 * Make `additionalAuthorizedImports` importable in the sandbox: the wheels of the site's lock that
 * provide them (the build's --wheel) and everything they depend on, dependencies first, each once
 * (wasm_agent/executor/packages.py resolves), fetched and checked here, installed there. A site built
 * with `--packages-url` also resolves against the pinned Pyodide's lock (pyodide/distribution-lock.json)
 * and fetches those wheels (numpy…) from that distribution, keeping them in Cache Storage. A module
 * no wheel provides is an error now, not a surprise in the model's first step. Standard-library
 * modules need nothing. `packages` names a distribution and its lock instead of the site's (the agent
 * in Deno's --packages-url).
 * @param {object} pyodide  the agent's Pyodide (wasm_agent importable)
 * @param {import("./sandbox-client.js").SandboxClient} sandbox
 * @param {URL} siteUrl
 * @param {string[]} names
 * @param {{url: URL, lockUrl: URL}} [packages]
 */
export async function installImports(pyodide, sandbox, siteUrl, names, packages) {
  if (!names.length) return;
  const base = new URL("pyodide/", siteUrl);
  const [lockText, manifest] = await Promise.all([siteLock(siteUrl),
    siteText(siteUrl, "build.json").then(JSON.parse).catch(() => ({}))]);
  const packagesUrl = packages?.url
    ?? (manifest.packagesUrl ? new URL(manifest.packagesUrl.replace(/\/?$/, "/"), siteUrl) : null);
  const distributionLock = packagesUrl ? await fetch(packages?.lockUrl ?? new URL("distribution-lock.json", base))
    .then((response) => response.text()) : null;
  const resolve = pyodide.pyimport("wasm_agent.platform.browser_agent").wheels_for_imports;
  const answer = JSON.parse(resolve(lockText, JSON.stringify(names), distributionLock));
  if (answer.error) throw new Error(answer.error);
  if (answer.wheels.length) {
    await sandbox.install(answer.wheels.map((entry) => (entry.origin === "distribution"
      ? { url: new URL(entry.file_name, packagesUrl).href, sha256: entry.sha256, cacheName: PACKAGE_CACHE }
      : { url: new URL(entry.file_name, base).href, sha256: entry.sha256 })));
  }
}

/**
 * A tool call from generated code, run by an `AgentSession` (wasm_agent/platform/browser_agent.py):
 * resolves with the tool's value, rejects with its error (named as the agent error it is).
 */
export async function answerToolCall(session, name, args, kwargs) {
  const answer = JSON.parse(await session.answer_tool(name, JSON.stringify(args), JSON.stringify(kwargs)));
  if (answer.ok) return answer.value;
  throw Object.assign(new Error(answer.error?.message ?? "the tool failed"), { name: answer.error?.type ?? "Error" });
}
