// The hard limit of a Deno sandbox worker: Deno's worker.terminate() cannot end a thread that spins in wasm
// or in a JS loop (the thread keeps a core until the process ends). V8 can (TerminateExecution), and
// node:vm's `timeout` is how a worker reaches it: a thread of Deno's ends the script's execution, whatever
// runs, once the timeout passes. The code of a run goes through here (core.js `runWithin`), so code that
// ignores every interrupt is ended at its hard limit; a script runs only what it finds in this slot, taken
// as it starts.
//
// Its own module, imported by a worker's root before deno-worker.js only when its sandbox has a hard limit
// (deno/sandbox_workers.js): node:vm needs `Deno` as it loads, and Deno's Node layer, which the first
// node: import sets up, costs every worker about 10 ms of CPU.

import { Script } from "node:vm";

let within = null;
Object.defineProperty(globalThis, "__sandboxRunWithin", { value: () => { const call = within; within = null; return call?.(); } });
const runWithinScript = new Script("__sandboxRunWithin()");

/** Run `call`; past `timeoutMs` it is ended wherever it is (throws, code ERR_SCRIPT_EXECUTION_TIMEOUT). */
export function runWithin(call, timeoutMs) {
  within = call;
  return runWithinScript.runInThisContext({ timeout: Math.max(1, Math.ceil(timeoutMs)), displayErrors: false });
}
