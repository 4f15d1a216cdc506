// The in-browser model's test page: Playwright calls window.modelTest.* with page.evaluate.
// The agent runs in this page's Pyodide with the in-process executor (this page opens
// no sandbox iframe; the site's agent worker does); the model is the real one.
import { clearCachedModels, publishBrowserModel } from "../browser-model.js";

const progress = [];
let model = null;
let pyodide = null;

window.modelTest = {
  progress,
  async load(options = {}) {
    const t0 = performance.now();
    // As the agent worker does: Python's BrowserModel() finds globalThis.wasmAgentBrowserModel.
    model = await publishBrowserModel({ ...options, onProgress: (p) => progress.push(p) });
    return { ...model.info, readyMs: performance.now() - t0, isolated: self.crossOriginIsolated };
  },
  // A GGUF the user picks (<input type=file>): here the site's own, fetched into a File.
  async loadFile(url, options = {}) {
    const blob = await (await fetch(url)).blob();
    model = await publishBrowserModel({ ...options, file: new File([blob], "picked.gguf"),
                                        onProgress: (p) => progress.push(p) });
    return { ...model.info, isolated: self.crossOriginIsolated };
  },
  async generate(request) {
    const deltas = [];
    let done = null;
    for await (const event of model.stream(request)) {
      if (event.type === "delta") deltas.push(event.text);
      else done = event;
    }
    return { ...done, deltas: deltas.length, joined: deltas.join("") };
  },
  async cachedModels() {
    const { ModelManager } = await import("../wllama/index.js");
    return (await new ModelManager().getModels()).map((cached) => cached.url);
  },
  clearCachedModels: (url) => clearCachedModels(url),
  async startPython(wheel) {
    const t0 = performance.now();
    const { loadPyodide } = await import("../pyodide/pyodide.mjs");
    pyodide = await loadPyodide({ indexURL: new URL("../pyodide/", import.meta.url).href });
    await pyodide.loadPackage(new URL(wheel, location.href).href);
    return { ms: performance.now() - t0 };
  },
  // Runs `code` (Python, async allowed) with `args` as a dict named `args`; returns its JSON result.
  async python(code, args = {}) {
    pyodide.globals.set("args_json", JSON.stringify(args));
    const result = await pyodide.runPythonAsync(code);
    return JSON.parse(result);
  },
};
