// The page side of the browser sandbox: fetches what a sandbox boots from
// (once per page), creates the opaque-origin iframe (web/sandbox/sandbox.html) and
// returns the MessagePort that speaks the sandbox protocol. A SandboxClient
// (web/sandbox-client.js) drives that port, here or in a worker it is sent to.

import { readWheelTexts } from "./sandbox-wheel.js";

/** The Python modules the sandbox runs (web/sandbox/core.js imports sandbox_main). */
const SANDBOX_MODULES = ["errors.py", "executor/base.py", "executor/runner.py", "executor/protocol.py",
  "executor/wire_values.py", "executor/sandbox_main.py"].map((path) => `wasm_agent/${path}`);

/**
 * @typedef {object} SandboxAssetUrls
 * @property {string} [base]      folder of protocol.js and sandbox/ (sandbox.html, the workers' code)
 * @property {string} [pyodide]   folder of Pyodide's files (pyodide.mjs, pyodide.asm.*, stdlib, lock)
 * @property {string} wheel       the wasm_agent wheel
 * @property {string} [snapshot]  a Pyodide memory snapshot of the sandbox (optional)
 */

const assetCache = new Map();

/**
 * Everything a sandbox boots from, fetched once per set of URLs.
 * @param {SandboxAssetUrls} urls
 */
export function loadSandboxAssets(urls) {
  const key = JSON.stringify(urls);
  if (!assetCache.has(key)) {
    const promise = fetchAssets(urls);
    promise.catch(() => assetCache.delete(key));
    assetCache.set(key, promise);
  }
  return assetCache.get(key);
}

async function fetchAssets({ base = new URL(".", import.meta.url).href, pyodide, wheel, snapshot }) {
  const baseUrl = new URL(base, globalThis.location?.href);
  const pyodideUrl = new URL(pyodide ?? "pyodide/", baseUrl);
  const get = async (url, kind) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the sandbox could not load ${url}: HTTP ${response.status}`);
    return kind === "text" ? response.text() : response.arrayBuffer();
  };
  const text = (name, folder = baseUrl) => get(new URL(name, folder), "text");
  const bytes = (name, folder = pyodideUrl) => get(new URL(name, folder), "bytes");
  const [workerSource, protocol, core, pyodideSource, asmSource, wasm, stdlib, lock, wheelBytes, snapshotBytes] =
    await Promise.all([
      text("sandbox/browser-worker.js"), text("protocol.js"), text("sandbox/core.js"),
      text("pyodide.mjs", pyodideUrl), text("pyodide.asm.mjs", pyodideUrl),
      bytes("pyodide.asm.wasm"), bytes("python_stdlib.zip"), bytes("pyodide-lock.json"),
      bytes(new URL(wheel, baseUrl)), snapshot ? bytes(new URL(snapshot, baseUrl)).catch(() => null) : null,
    ]);
  const wheelTexts = await readWheelTexts(wheelBytes, (path) => SANDBOX_MODULES.includes(path));
  const missing = SANDBOX_MODULES.filter((path) => !(path in wheelTexts));
  if (missing.length) throw new Error(`the wheel ${wheel} lacks ${missing.join(", ")}`);
  return {
    frameUrl: new URL("sandbox/sandbox.html", baseUrl).href,
    boot: {
      workerSource,
      modules: { "protocol.js": protocol, "core.js": core },
      pyodideSource,
      asmSource,
      files: { "pyodide.asm.wasm": wasm, "python_stdlib.zip": stdlib, "pyodide-lock.json": lock },
      // Package markers stay empty: the sandbox must not import the rest of wasm_agent.
      pythonFiles: { "wasm_agent/__init__.py": "", "wasm_agent/executor/__init__.py": "", ...wheelTexts },
      snapshot: snapshotBytes ? new Uint8Array(snapshotBytes) : undefined,
    },
  };
}

/**
 * Create the sandbox iframe and connect to it.
 * @param {object} options
 * @param {Awaited<ReturnType<typeof loadSandboxAssets>>} options.assets
 * @param {HTMLElement} [options.container]  where the (hidden) iframe goes; default document.body
 * @param {boolean} [options.spare]          keep a warm spare worker for instant restarts
 * @param {number} [options.maxMemoryMb]     the wasm memory limit of the sandbox worker
 * @param {string} [options.frameUrl]        where sandbox.html comes from (default: next to the other files).
 *   Chromium gives a sandboxed frame a process of its own wherever it comes from: a sandbox that exhausts
 *   its JS heap ends only that process, and `SandboxClient` reports it as `lost`.
 * @returns {Promise<{port: MessagePort, iframe: HTMLIFrameElement, atomics: boolean, destroy: () => void}>}
 */
export async function openSandboxFrame({ assets, container = document.body, spare = true, maxMemoryMb = 1024,
  frameUrl = assets.frameUrl }) {
  const iframe = document.createElement("iframe");
  iframe.sandbox = "allow-scripts"; // opaque origin: no storage, no cookies, no parent DOM
  if (self.crossOriginIsolated) iframe.allow = "cross-origin-isolated";
  iframe.title = "wasm-agent code sandbox";
  iframe.hidden = true;
  iframe.src = frameUrl;
  const loaded = new Promise((resolve, reject) => {
    iframe.addEventListener("load", resolve, { once: true });
    iframe.addEventListener("error", () => reject(new Error("the sandbox frame did not load")), { once: true });
  });
  container.append(iframe);
  await loaded;
  const channel = new MessageChannel();
  const connected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the sandbox frame did not answer (is sandbox.html's CSP hash stale?)")), 10_000);
    channel.port1.onmessage = (event) => {
      clearTimeout(timer);
      channel.port1.onmessage = null;
      resolve(event.data);
    };
  });
  // An opaque origin can only be addressed as "*"; the port is the channel from now on.
  iframe.contentWindow.postMessage({ kind: "connect" }, "*", [channel.port2]);
  const hello = await connected;
  channel.port1.postMessage({
    kind: "start",
    boot: assets.boot,
    options: { spare, maxMemoryBytes: maxMemoryMb ? maxMemoryMb * 1024 * 1024 : 0 },
  });
  return {
    port: channel.port1,
    iframe,
    atomics: Boolean(hello?.atomics),
    destroy: () => {
      channel.port1.close();
      iframe.remove();
    },
  };
}
