// The sandbox worker for Deno. Started by deno/sandbox_host.js with
// `deno: {permissions: "none"}`: it can read, write, fetch, spawn and look up nothing.
// Pyodide comes as bytes from the parent (web/sandbox_core.js serves them to it).
//
// Deno's and Node's globals are removed first, so that Pyodide takes its
// browser-worker code path (the same as in the browser sandbox) and generated
// code does not see them. The permissions are the boundary, not this.

import { serveSandbox } from "../web/sandbox_core.js";

const post = globalThis.postMessage.bind(globalThis);
for (const name of ["Deno", "process", "Buffer", "global", "setImmediate", "clearImmediate", "require"]) {
  try {
    delete globalThis[name];
  } catch { /* not configurable: permissions still hold */ }
}
// The worker's console writes to the host's stdout, which carries the protocol: send it as `log`.
const log = (...values) => post(JSON.stringify({ type: "log", text: values.map(String).join(" ").slice(0, 2000) }));
globalThis.console = { log, info: log, warn: log, error: log, debug: log, trace: log };
globalThis.close = () => {};  // a worker that closes itself would look alive to the host
// A promise that generated code left failing must not take the sandbox down.
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  log(`unhandled rejection in the sandbox: ${event.reason}`);
});

serveSandbox(globalThis, post);
