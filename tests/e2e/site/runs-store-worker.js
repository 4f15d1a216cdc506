// A module worker with the agent worker's Pyodide and wheel, for the store round trip:
// runs the Python source it is sent with `js_store` (web/run-store.js) as a global.

import { openRunStore } from "../run-store.js";

self.onmessage = async ({ data }) => {
  try {
    const { loadPyodide } = await import("../pyodide/pyodide.mjs");
    const pyodide = await loadPyodide({ indexURL: new URL("../pyodide/", import.meta.url).href });
    await pyodide.loadPackage("wasm-agent");
    pyodide.globals.set("js_store", await openRunStore());
    const value = await pyodide.runPythonAsync(data.source);
    self.postMessage({ ok: true, value: JSON.parse(value) });
  } catch (error) {
    self.postMessage({ ok: false, error: String(error?.message ?? error) });
  }
};
