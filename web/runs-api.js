// Saved runs in the JS API (DESIGN §5): listRuns, resume, exportRun, importRun,
// renameRun, deleteRun, exportTrace — the page side, mixed into the Agent class
// of agent-client.js, and the agent worker side (`installRunHandlers`), which
// routes to wasm_agent/platform/browser_store.py.
//
// The page reads and edits runs straight from IndexedDB (web/run-store.js), so
// the run history shows before Python has loaded; resuming, timelines and
// traces need the worker (Python owns the agent loop and wasm_agent.tracing).
//
// Worker messages added (page → worker):
//   run {agentId, task, reset, resume?}   resume: a run id to continue instead of a new task, or
//                                          {runId, replay?}: replay true/false runs the saved code again or not
//                                          (default: yes for runs made here, no for imported ones)
//   runs.events {runId}                                  → [{type: "task" | "step" | "planning" | "final_answer", …}]
//   runs.timeline {runId, agentId?, modelId?, prices?}   → {rows, totals}
//   runs.trace {runId, agentId?, modelId?, prices?}      → OTLP/JSON
// prices: {inputPerMillion, outputPerMillion} in US dollars; default: the agent's createAgent({prices}).

import { checkExportText } from "./run-format.js";
import { openRunStore } from "./run-store.js";

let storeOpening = null;

/** This origin's run store (one connection per page or worker). */
export function runStore() {
  storeOpening ??= openRunStore();
  storeOpening.catch(() => { storeOpening = null; });
  return storeOpening;
}

/**
 * @typedef {object} RunSummary
 * @property {string} id
 * @property {string} title
 * @property {"running"|"interrupted"|"success"|"max_steps_error"|"error"} status
 * @property {number} steps       finished action steps
 * @property {number} createdAt   milliseconds since the epoch
 * @property {number} updatedAt
 * @property {boolean} imported   came from a file: resuming it runs its code again only with {replay: true}
 * @property {string} [damage]    the record is not in the format (what is wrong): it can only be deleted
 */

/** @returns {RunSummary} */
export function summarize(record) {
  const summary = { id: record.id, title: record.title, status: record.status, steps: record.steps,
    createdAt: Math.round(record.created_at * 1000), updatedAt: Math.round(record.updated_at * 1000),
    imported: record.imported === true };
  if (record.damage) summary.damage = record.damage;
  return summary;
}

/** Runs saved by this origin, newest first. @returns {Promise<RunSummary[]>} */
export async function listRuns() {
  return (await (await runStore()).listRuns()).map(summarize);
}

/** A run as `{format: "wasm-agent-run/1", run, steps}` (the same as CPython's `RunStore.export_run`). */
export async function exportRun(runId) {
  return (await runStore()).exportRun(runId);
}

/** Add an exported run (an object, or its JSON text). @returns {Promise<RunSummary>} */
export async function importRun(data) {
  if (typeof data === "string") checkExportText(data);
  return summarize(await (await runStore()).importRun(typeof data === "string" ? JSON.parse(data) : data));
}

export async function renameRun(runId, title) {
  return summarize(await (await runStore()).renameRun(runId, title));
}

export async function deleteRun(runId) {
  await (await runStore()).deleteRun(runId);
}

/** A saved run's timeline (rows of wasm_agent.tracing.timeline) and totals, computed in the worker. */
export function runTimeline(rpc, runId, options = {}) {
  return rpc.request("runs.timeline", { runId, ...options }, { timeoutMs: 60_000 });
}

/** A saved run as the events a live run streams (task first), to show it in a ChatView. */
export function runEvents(rpc, runId) {
  return rpc.request("runs.events", { runId }, { timeoutMs: 60_000 });
}

/** A saved run as OTLP/JSON: `{resourceSpans: [{scopeSpans: [{spans}]}]}`. */
export function exportTrace(rpc, runId, options = {}) {
  return rpc.request("runs.trace", { runId, ...options }, { timeoutMs: 60_000 });
}

/**
 * Give an Agent class the run methods of DESIGN §5. Call it in the class body,
 * where the private channel is reachable:
 *   static { addRunMethods(this, (agent) => agent.#rpc); }
 * `resume` relies on `run(task, {resume})` passing `resume` to the worker's "run".
 */
export function addRunMethods(AgentClass, rpcOf) {
  Object.assign(AgentClass.prototype, {
    listRuns,
    exportRun,
    importRun,
    renameRun,
    deleteRun,
    /**
     * Continue a saved run from its last finished step; the same result as run(), with its runId.
     * `replay`: run the saved steps' code again to rebuild their variables (default: yes for a run
     * made in this browser, no for an imported one, whose code is untrusted; the model is told what is missing).
     */
    resume(runId, { replay } = {}) {
      return this.run(null, { resume: { runId, replay } });
    },
    exportTrace(runId, options = {}) {
      return exportTrace(rpcOf(this), runId, { agentId: this.id, ...options });
    },
    runTimeline(runId, options = {}) {
      return runTimeline(rpcOf(this), runId, { agentId: this.id, ...options });
    },
  });
}

// -- the agent worker's side ------------------------------------------------------------

/**
 * Serve the run messages in the agent worker and save every agent's runs.
 * @param {import("./rpc.js").RpcChannel} rpc
 * @param {{pyodide: () => object, sessionOf: (agentId: number) => object}} hooks
 * @returns {{attach(session: object, options: object): Promise<void>,
 *           run(session: object, params: {task?: string|null, reset?: boolean, resume?: string|null},
 *               emit: (json: string) => void): Promise<object>}}
 */
export function installRunHandlers(rpc, { pyodide, sessionOf }) {
  let python = null;
  const optionsOf = new WeakMap(); // session → its createAgent options (model id, prices)
  const ready = async () => {
    python ??= pyodide().pyimport("wasm_agent.platform.browser_store");
    return { store: await runStore(), python };
  };
  const traceOptions = ({ agentId, modelId, prices }) => {
    const options = agentId == null ? {} : optionsOf.get(sessionOf(agentId)) ?? {};
    return JSON.stringify({ modelId: modelId ?? options.model?.model ?? null, prices: prices ?? options.prices ?? null });
  };
  rpc.handle("runs.timeline", async (params) => {
    const { store, python: py } = await ready();
    return JSON.parse(await py.run_timeline(store, params.runId, traceOptions(params)));
  });
  rpc.handle("runs.events", async ({ runId }) => {
    const { store, python: py } = await ready();
    return JSON.parse(await py.run_events(store, runId));
  });
  rpc.handle("runs.trace", async (params) => {
    const { store, python: py } = await ready();
    return JSON.parse(await py.export_trace(store, params.runId, traceOptions(params)));
  });
  return {
    async attach(session, options) {
      const { store, python: py } = await ready();
      optionsOf.set(session, options);
      py.attach_run_store(session, options.persist === false ? undefined : store); // undefined: None (null is jsnull)
    },
    async run(session, { task = null, reset = true, resume = null }, emit) {
      const { python: py } = await ready();
      const { runId, replay } = typeof resume === "string" ? { runId: resume } : resume ?? {};
      return JSON.parse(await py.run_session(session, task ?? undefined, emit, reset, runId ?? undefined,
        typeof replay === "boolean" ? replay : undefined));
    },
  };
}
