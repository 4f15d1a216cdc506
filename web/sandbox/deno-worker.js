// The sandbox worker for Deno. Started by deno/sandbox_workers.js with
// `deno: {permissions: "none"}`: it can read, write, fetch, spawn and look up nothing.
// Pyodide's files come as bytes from the parent (core.js serves them to it); its two JS modules are
// imported as modules of the worker (see `usePyodide`), else they come as text too.
//
// Before the core loads, everything of Deno's own runtime is removed from the global scope, so
// that generated code holds only the protocol port: no `Deno` (stdout, stderr, the process), no
// nested `Worker` (whose fresh scope would have `Deno` again, and could outlive a restart), no
// channels to other workers of the process (BroadcastChannel, navigator.locks), no sockets. Pyodide
// then takes its browser-worker code path, as in the browser sandbox. The process runs with code
// generation from strings disabled (sandbox_launch.py), so code cannot `import("node:…")` either.
// The permissions stay the boundary; this takes away what needs none.

import { serveSandbox } from "./core.js";
import { memoryFigure } from "./memory-figure.js";

// Bound now: generated code may replace postMessage later, and must not see the frames.
const post = globalThis.postMessage.bind(globalThis);
const endSelf = globalThis.close.bind(globalThis); // removed below from what code can reach
// This worker's own V8 heap and ArrayBuffers (Deno gives the isolate's figures, and the process's rss):
// taken before `Deno` goes, for the memory figure the parent's watch reads (memory-figure.js).
const memoryUsage = Deno.memoryUsage;
const figure = memoryFigure(() => {
  const { heapTotal, external } = memoryUsage();
  return heapTotal + external;
});

/** What this worker's global scope must not offer; tests/unit/test_sandbox_deno_seal.py checks they are gone. */
export const REMOVED_GLOBALS = [
  "Deno", "process", "Buffer", "global", "setImmediate", "clearImmediate", "require",
  "Worker", "SharedWorker", "BroadcastChannel", "WebSocket", "WebSocketStream", "EventSource",
  "caches", "CacheStorage", "Cache", "Lock", "LockManager", "GPU", "close",
];
for (const name of REMOVED_GLOBALS) {
  try {
    delete globalThis[name];
  } catch { /* not configurable: permissions still hold */ }
}
for (const name of ["locks", "gpu"]) { // navigator's ways to other workers and devices
  try {
    delete Object.getPrototypeOf(globalThis.navigator)[name];
  } catch { /* absent */ }
}

let pyodideModules = null;
/**
 * Pyodide's JS, imported by the worker's root module after this one (deno/sandbox_workers.js makes it):
 * evaluated once the scope above is bare, so Pyodide takes its browser-worker path, and compiled from
 * Deno's code cache instead of from text in every worker. Only the first call counts.
 * @param {import("./core.js").PyodideModules} modules
 */
export function usePyodide(modules) {
  pyodideModules ??= modules;
}

// How the worker ends code that ignores every interrupt: deno-hard-limit.js's `runWithin`, which the worker's
// root hands over (usePyodide's way) when its sandbox has a hard limit; else none (a boot that asks for one
// then fails).
const hardLimit = { runWithin: null, endSelf };
/** @param {(call: () => any, timeoutMs: number) => any} runWithin  Only the first call counts. */
export function useHardLimit(runWithin) {
  hardLimit.runWithin ??= runWithin;
}

const { log } = serveSandbox(globalThis, post, post, () => pyodideModules, hardLimit, figure);
// The worker's console would write to the host's stdout, which carries the protocol: send it as `log`.
const toLog = (...values) => log(values.map(String).join(" "));
globalThis.console = { log: toLog, info: toLog, warn: toLog, error: toLog, debug: toLog, trace: toLog };
// A promise that generated code left failing must not take the sandbox down.
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  toLog(`unhandled rejection in the sandbox: ${event.reason}`);
});
