// The page of tests/e2e/test_runs_browser.py: the site's JS API (agent worker,
// sandbox, IndexedDB) and the run history panel, driven through window.runsTest.

import { createAgent, startRuntime } from "../wasm-agent.js";
import * as runs from "../runs-api.js";
import { mountRunHistory } from "../history.js";

/** A JS tool that counts its calls in localStorage, so the count survives a reload. */
const TALLY = {
  name: "tally",
  description: "Count one call and return how many calls there were so far.",
  inputs: { label: { type: "string", description: "what is being counted" } },
  outputType: "integer",
  fn: () => {
    const count = Number(localStorage.getItem("tally") ?? 0) + 1;
    localStorage.setItem("tally", String(count));
    return count;
  },
};

window.runsTest = {
  agent: null,
  pending: null,
  runs,
  events: [],
  async create(model, extra = {}) {
    this.agent = await createAgent({ model, tools: [TALLY], maxSteps: 6, ...extra });
    return this.agent.info;
  },
  /** Start a run without waiting for it (the test reloads the page in the middle). */
  start(task) {
    this.pending = this.agent.run(task);
    this.pending.catch(() => {});
    return true;
  },
  async storeRoundTrip(source) {
    const worker = new Worker(new URL("runs-store-worker.js", import.meta.url), { type: "module" });
    return new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.ok ? resolve(data.value) : reject(new Error(data.error)));
      worker.onerror = (event) => reject(new Error(event.message));
      worker.postMessage({ source });
    }).finally(() => worker.terminate());
  },
  mountHistory(options = {}) {
    if (this.history) return true; // one panel per page: a second one would open two dialogs
    this.history = mountRunHistory({
      button: document.querySelector("#open-history"),
      rpc: () => startRuntime().then(({ rpc }) => rpc),
      modelId: () => "mock-coder",
      onResume: async (runId, run, { replay } = {}) => {
        const result = await this.agent.resume(runId, { replay });
        this.events.push({ type: "resumed", runId, replay, result });
        return result;
      },
      ...options,
    });
    return true;
  },
};
document.body.dataset.ready = "true";
