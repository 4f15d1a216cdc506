// The inside of a sandbox worker, the same in Deno and in the browser: boots
// Pyodide from bytes its parent hands over (it fetches nothing itself), then
// answers protocol messages with wasm_agent/executor/sandbox_main.py.
//
// The parent posts one `boot` object, then protocol messages as JSON text.
// The worker posts JSON text back (`ready`, `result`, `tool_call`, `log`) and,
// when asked to make a snapshot, one `{snapshot: Uint8Array}` object.
//
// Tool calls block the Python code until the host answers, in one of two ways:
//   "atomics": the host writes the `tool_result` into `channel.data` (a growable
//              SharedArrayBuffer) and flips `channel.control[0]` to 1;
//   "jspi":    the answer comes as an ordinary message; Python waits with run_sync.

import { decode } from "./protocol.js";

/**
 * @typedef {object} Boot
 * @property {"boot"} kind
 * @property {string} pyodideSource        text of pyodide.mjs
 * @property {string} asmSource            text of pyodide.asm.mjs
 * @property {Record<string, Uint8Array>} files  pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json
 * @property {boolean} [wasmModule]        pyodide.asm.wasm comes compiled, in a `{kind: "wasm", module}`
 *                                         message after this one (the parent compiles while we import)
 * @property {Record<string, string>} pythonFiles  path under the sandbox's site dir -> source
 * @property {Uint8Array} [snapshot]       a memory snapshot made by an earlier boot
 * @property {boolean} [makeSnapshot]      boot, warm up, post the snapshot, do nothing else
 * @property {SharedArrayBuffer} [interrupt]  Pyodide's interrupt buffer (Int32Array[1])
 * @property {{control: SharedArrayBuffer, data: SharedArrayBuffer}} [channel]  atomics tool bridge
 */

const ORIGIN = "https://pyodide.invalid/";  // never reached: the fetch shim answers it
const SITE_DIR = "/home/pyodide/sandbox";
const WARM_UP = `
import sys
sys.path.insert(0, ${JSON.stringify(SITE_DIR)})
import wasm_agent.executor.sandbox_main as sandbox_main
for name in sandbox_main.WARM_IMPORTS:
    __import__(name)
`;

/**
 * Serve the sandbox in `scope` (a worker's global object).
 * @param {{postMessage: Function, onmessage: any}} scope
 * @param {(message: string | object, transfer?: Transferable[]) => void} post
 */
export function serveSandbox(scope, post) {
  let session = null;
  let jspiAnswers = null;
  const queue = [];
  let busy = false;
  let resolveWasm;
  const wasm = new Promise((resolve) => { resolveWasm = resolve; });

  async function pump() {
    if (busy) return;
    busy = true;
    try {
      while (queue.length) {
        const data = queue.shift();
        if (data?.kind === "boot") {
          const booted = await boot(data, post, wasm);
          session = booted?.session ?? null;
          jspiAnswers = booted?.answers ?? null;
        } else if (session) {
          post(await answer(session, data));
        }
      }
    } catch (error) {
      post(JSON.stringify({ type: "crashed", reason: String(error?.stack ?? error) }));
    } finally {
      busy = false;
    }
  }

  /**
   * The session's answer to one request. A KeyboardInterrupt can land in the protocol's own Python
   * around the code (an interrupt meant for code that has just finished): the code's state is
   * intact, so the request is answered as interrupted instead of the sandbox being given up.
   */
  async function answer(session, data) {
    // An interrupt is for the code of a run: one left over (it came as the last run ended) must not
    // stop the next request. The host clears it itself when it sends a run.
    if (typeof data === "string" && !data.startsWith('{"type":"run"')) session.clearInterrupt();
    try {
      return await session.handle(data);
    } catch (error) {
      if (error?.type !== "KeyboardInterrupt") throw error;
      let id = 0;
      try {
        id = JSON.parse(data).id ?? 0;
      } catch { /* not JSON: the session would have said so */ }
      return JSON.stringify({ type: "result", id, ok: false,
        error: { type: "KeyboardInterrupt", message: "the request was interrupted" } });
    }
  }

  scope.onmessage = (event) => {
    const data = event.data;
    if (data?.kind === "wasm") return resolveWasm(data.module);
    // In JSPI mode a tool answer arrives while Python waits: deliver it at once.
    if (typeof data === "string" && jspiAnswers) {
      let message = null;
      try { message = decode(data, ["tool_result", "interrupt"]); } catch { /* a request: queue it */ }
      if (message?.type === "interrupt") return jspiAnswers.interruptAll();
      if (message && jspiAnswers.deliver(message.id, data)) return;
    }
    queue.push(data);
    pump();
  };
}

/**
 * @param {Boot} boot
 * @param {Promise<WebAssembly.Module>} wasm the compiled module, when `boot.wasmModule`
 */
async function boot(boot, post, wasm) {
  const started = performance.now();
  const files = boot.files;
  globalThis.fetch = fetchShim(files);  // Pyodide's only source of bytes
  const instantiateStreaming = WebAssembly.instantiateStreaming;
  if (boot.wasmModule) {
    // Pyodide instantiates its wasm from the fetch of pyodide.asm.wasm: use the compiled module instead.
    WebAssembly.instantiateStreaming = async (response, imports) => {
      Promise.resolve(response).catch(() => {});  // the shim refuses that fetch: nobody needs its answer
      const module = await wasm;
      return { module, instance: await WebAssembly.instantiate(module, imports) };
    };
  }
  const blobUrl = (text) => URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
  const { loadPyodide } = await import(blobUrl(boot.pyodideSource));
  const asm = await import(blobUrl(boot.asmSource));
  const imported = performance.now();
  const pyodide = await loadPyodide({
    indexURL: ORIGIN,
    stdLibURL: ORIGIN + "python_stdlib.zip",
    packageBaseUrl: ORIGIN,
    lockFileContents: new TextDecoder().decode(files["pyodide-lock.json"]),
    createPyodideModule: asm.default,
    // Writes to fds 1/2 that bypass the runner's capture are dropped: they must not reach the host's stdout.
    stdout: () => {},
    stderr: () => {},
    _makeSnapshot: Boolean(boot.makeSnapshot),
    _loadSnapshot: boot.snapshot,
  });
  const loaded = performance.now();
  WebAssembly.instantiateStreaming = instantiateStreaming;
  globalThis.fetch = fetchShim({});  // booted: let go of the bytes; every fetch is refused from now on
  if (!boot.snapshot) {
    for (const [path, text] of Object.entries(boot.pythonFiles)) {
      const full = `${SITE_DIR}/${path}`;
      pyodide.FS.mkdirTree(full.slice(0, full.lastIndexOf("/")));
      pyodide.FS.writeFile(full, text);
    }
    pyodide.runPython(WARM_UP);
  }
  if (boot.makeSnapshot) {
    post({ snapshot: pyodide.makeMemorySnapshot() });
    return null;
  }
  if (boot.interrupt) pyodide.setInterruptBuffer(new Int32Array(boot.interrupt));
  const bridge = boot.channel ? atomicsBridge(boot.channel, boot.interrupt, post) : jspiBridge(post);
  const module = pyodide.pyimport("wasm_agent.executor.sandbox_main");
  const pySession = module.SandboxSession(bridge.callHost, boot.interrupt ? interruptibleSleep(boot.interrupt) : null);
  const handle = pySession.handle;
  // Entered through JSPI where it exists, so code may block on promises (asyncio.run, run_sync).
  const jspi = typeof WebAssembly.Suspending === "function";
  const interruptView = boot.interrupt ? new Int32Array(boot.interrupt) : null;
  const session = {
    handle: jspi ? (text) => handle.callPromising(text) : (text) => handle(text),
    clearInterrupt: () => interruptView && Atomics.store(interruptView, 0, 0),
  };
  post(JSON.stringify({
    type: "ready", startup_ms: Math.round(performance.now() - started), snapshot: Boolean(boot.snapshot),
    phases_ms: { import: Math.round(imported - started), load: Math.round(loaded - imported),
                 setup: Math.round(performance.now() - loaded) },
    bridge: boot.channel ? "atomics" : "jspi", interrupts: Boolean(boot.interrupt),
  }));
  return { session, answers: boot.channel ? null : bridge };
}

function fetchShim(files) {
  return async (resource) => {
    const url = String(resource?.url ?? resource);
    const name = url.startsWith(ORIGIN) ? url.slice(ORIGIN.length) : null;
    if (name && Object.hasOwn(files, name)) {
      const type = name.endsWith(".wasm") ? "application/wasm" : "application/octet-stream";
      return new Response(files[name], { headers: { "content-type": type } });
    }
    throw new TypeError(`the sandbox has no network (fetch of ${url.slice(0, 200)} refused)`);
  };
}

// time.sleep for Python that wakes when the interrupt buffer is set (Pyodide's own sleep misses it).
// Returns true when interrupted, and consumes the interrupt (Python raises it).
function interruptibleSleep(interruptBuffer) {
  const interrupt = new Int32Array(interruptBuffer);
  return (ms) => {
    if (Atomics.load(interrupt, 0) !== 2) Atomics.wait(interrupt, 0, Atomics.load(interrupt, 0), ms);
    if (Atomics.load(interrupt, 0) !== 2) return false;
    Atomics.store(interrupt, 0, 0);
    return true;
  };
}

// Blocks the worker with Atomics.wait until the host writes the answer.
function atomicsBridge(channel, interruptBuffer, post) {
  const control = new Int32Array(channel.control);
  const interrupt = interruptBuffer ? new Int32Array(interruptBuffer) : null;
  const decoder = new TextDecoder();
  return {
    callHost(text) {
      const id = JSON.parse(text).id;
      Atomics.store(control, 0, 0);
      post(text);
      for (;;) {
        Atomics.wait(control, 0, 0, 50);
        if (Atomics.load(control, 0) === 1) {
          const length = Atomics.load(control, 1);
          const answer = decoder.decode(new Uint8Array(channel.data, 0, length).slice());
          if (JSON.parse(answer).id === id) return answer;
          Atomics.store(control, 0, 0);  // an answer to some other (forged) call: keep waiting
        } else if (interrupt && Atomics.load(interrupt, 0) === 2) {
          Atomics.store(interrupt, 0, 0);  // consumed here, so Python does not raise it twice
          return JSON.stringify({ type: "tool_result", id, ok: false, interrupted: true });
        }
      }
    },
  };
}

// Returns a promise; Python waits for it with run_sync (JSPI).
function jspiBridge(post) {
  const waiting = new Map();
  return {
    callHost(text) {
      const id = JSON.parse(text).id;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        post(text);
      });
    },
    interruptAll() {
      for (const id of [...waiting.keys()]) {
        this.deliver(id, JSON.stringify({ type: "tool_result", id, ok: false, interrupted: true }));
      }
    },
    deliver(id, text) {
      const resolve = waiting.get(id);
      if (!resolve) return false;
      waiting.delete(id);
      resolve(text);
      return true;
    },
  };
}
