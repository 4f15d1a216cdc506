// The memory figure of a Deno sandbox worker, for the process's memory watch (deno/sandbox_workers.js),
// which cannot measure one worker of a process shared by several: the worker's isolate's JS heap and
// ArrayBuffers, plus the wasm memories it counts (Pyodide's, and those code makes or grows), in KiB in
// shared memory that the watch reads at any time, also while code runs. The sandbox core (core.js) writes
// it after each request, on each wasm memory growth, as code starts to sleep or to wait for a tool, and
// from Pyodide's periodic signal check while Python runs. Imported by deno-worker.js before any generated
// code runs, and reachable from nowhere else: code changes its figure only by taking or freeing memory,
// and cannot write another worker's.

import { wasmBytes } from "./core.js";

// Taken before generated code can replace them.
const { apply, construct } = Reflect;
const { defineProperty, freeze } = Object;
const { store } = Atomics;
const now = performance.now.bind(performance);
const WeakRefType = WeakRef;
const deref = WeakRef.prototype.deref;

/**
 * @typedef {object} MemoryFigure
 * @property {(view: Int32Array) => MemoryFigure} start  where to write the figure (the boot's `memory`)
 * @property {(memory: WebAssembly.Memory) => WebAssembly.Memory} count  count this wasm memory from now on
 * @property {() => void} publish  write the figure now
 * @property {(imports: object) => void} watch  before Pyodide's instantiation: refresh the figure from its
 *   signal check while Python runs, and count the memories code makes with `WebAssembly.Memory`
 */

/**
 * @param {() => number} heapBytes  the isolate's JS heap and ArrayBuffers in bytes (Deno.memoryUsage, taken
 *   before `Deno` was removed)
 * @returns {MemoryFigure}
 */
export function memoryFigure(heapBytes) {
  let view = null;
  const counted = []; // WeakRefs: a memory that code drops is not counted once it is collected
  let checks = 0;
  let publishedAt = 0;

  const count = (memory) => {
    for (let i = 0; i < counted.length; i++) if (apply(deref, counted[i], []) === memory) return memory;
    defineProperty(counted, counted.length, { __proto__: null, value: new WeakRefType(memory) });
    return memory;
  };

  const publish = () => {
    if (!view) return;
    try {
      let bytes = heapBytes();
      for (let i = 0; i < counted.length; i++) {
        const memory = apply(deref, counted[i], []);
        if (memory) bytes += wasmBytes(memory);
      }
      store(view, 0, (bytes / 1024) | 0);
    } catch { /* left as it was: the process's resident memory stays the watch's backstop */ }
  };

  // Wrapped where Pyodide's wasm imports its signal check (every few dozen bytecodes): at most every 20 ms.
  const watch = (imports) => {
    const checkSignals = imports.env?._Py_CheckEmscriptenSignals_Helper;
    if (typeof checkSignals !== "function") throw new Error("Pyodide's signal check was not found among its imports");
    imports.env._Py_CheckEmscriptenSignals_Helper = function checkSignalsAndMemory() {
      if ((++checks & 15) === 0 && now() - publishedAt >= 20) {
        publishedAt = now();
        publish();
      }
      return checkSignals();
    };
    const Memory = WebAssembly.Memory;
    const counting = new Proxy(Memory, { __proto__: null, construct(target, args, newTarget) {
      return count(construct(target, args, newTarget));
    } });
    defineProperty(WebAssembly, "Memory", { __proto__: null, value: counting });
    defineProperty(Memory.prototype, "constructor", { __proto__: null, value: counting });
  };

  const figure = freeze({
    start(buffer) {
      view = buffer;
      return figure;
    },
    count,
    publish,
    watch,
  });
  return figure;
}
