// The inside of a sandbox worker, the same in Deno and in the browser: boots
// Pyodide from bytes its parent hands over (it fetches nothing itself), then
// answers protocol messages with wasm_agent/executor/sandbox_main.py.
//
// The parent posts one `boot` object, then protocol messages as JSON text.
// The worker posts back frames `{k: key, m: JSON text}` (`ready`, `result`, `tool_call`, `log`,
// `crashed`) and, when asked to make a snapshot, one `{k: key, snapshot: Uint8Array}`. The key comes
// with the boot and lives only in this module's closures: Python, which can post messages of its own
// (`js.postMessage`), never sees it, so its parent drops whatever it did not frame here. Results and
// tool calls get their envelope (type, id) here too: Python gives only their body.
//
// Tool calls block the Python code until the host answers, in one of two ways:
//   "atomics": the host writes the `tool_result` into `channel.data` (a growable
//              SharedArrayBuffer) and flips `channel.control[0]` to 1;
//   "jspi":    the answer comes as an ordinary message; Python waits with run_sync.

import { MAX_MESSAGE_CHARS, MAX_MESSAGE_DEPTH, ProtocolError, REQUEST_TYPES, checkShape, decode, encode }
  from "../protocol.js";

const parseJSON = JSON.parse; // taken before generated code can replace it
// Likewise for the size of a wasm memory (see wasmBytes): what it calls and the getters it reads.
const { apply } = Reflect;
const memoryBuffer = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, "buffer").get;
const bufferBytes = [ArrayBuffer, globalThis.SharedArrayBuffer]
  .filter(Boolean).map((type) => Object.getOwnPropertyDescriptor(type.prototype, "byteLength").get);
// Likewise: with its own Atomics.load or wait, code would wake the worker between requests (see idle()).
const { load, store, wait, notify } = globalThis.Atomics;
const Atomics = Object.freeze({ load, store, wait, notify });

/**
 * @typedef {object} Boot
 * @property {"boot"} kind
 * @property {string} [pyodideSource]      text of pyodide.mjs (unless the worker imported Pyodide itself)
 * @property {string} [asmSource]          text of pyodide.asm.mjs (the same)
 * @property {Record<string, Uint8Array>} files  pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json
 * @property {boolean} [wasmModule]        pyodide.asm.wasm comes compiled, in a `{kind: "wasm", module}`
 *                                         message after this one (the parent compiles while we import)
 * @property {Record<string, string>} pythonFiles  path under the sandbox's site dir -> source
 * @property {Uint8Array} [snapshot]       a memory snapshot made by an earlier boot
 * @property {Uint8Array} [snapshotZeroPages]  1 for each 64 KiB page of the snapshot's memory that is all zero:
 *                                         a Pyodide patched to read it copies only the others
 * @property {boolean} [makeSnapshot]      boot, warm up, post the snapshot, do nothing else
 * @property {SharedArrayBuffer} [interrupt]  Pyodide's interrupt buffer (Int32Array[1])
 * @property {{control: SharedArrayBuffer, data: SharedArrayBuffer}} [channel]  atomics tool bridge
 * @property {string} key                  frames every message of this worker (see above)
 * @property {SharedArrayBuffer} [gate]    Int32Array[1]: the parent adds 1 for each message it posts
 *                                         here; between requests the worker sleeps on it
 * @property {number} [maxMemoryBytes]     the wasm memory limit (MemoryError in Python past it)
 * @property {boolean} [endOnKill]         the parent stores KILL in the interrupt buffer before it ends
 *                                         this worker (Deno: see endOnKill below); needs `wasmModule`
 * @property {number} [stopCodeAfterMs]    a run's code is ended, interrupt or not, this long after it
 *                                         started (needs a HardLimit; the worker then reports `crashed`)
 * @property {SharedArrayBuffer} [within]  Int32Array[3]: [0] is 1 while a run's code is inside that limit (so
 *                                         its parent knows the thread ends even if the code ignores interrupts);
 *                                         [1] the parent sets to ask the worker to end itself; [2] says it did
 * @property {SharedArrayBuffer} [memory]  Int32Array[1]: this worker's own memory in KiB (memory-figure.js)
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
 * Pyodide's two modules, when the worker imported them as modules of its own (Deno: compiled code comes
 * from Deno's code cache) rather than from the text in its boot message.
 * @typedef {object} PyodideModules
 * @property {Function} loadPyodide          pyodide.mjs's export
 * @property {Function} createPyodideModule  pyodide.asm.mjs's default export
 */

/**
 * Serve the sandbox in `scope` (a worker's global object). Returns `receive`, for messages that come
 * another way than `scope`'s message events, and `log`, which sends a `log` message to the host.
 * @param {EventTarget} scope
 * @param {(frame: object) => void} post          to the parent (bound before any other code ran)
 * @param {(frame: object) => void} [postToolCall]  where `tool_call`s go (default: `post`)
 * @param {() => PyodideModules | null} [pyodideModules]  Pyodide already imported, if it was
 * @param {HardLimit | null} [hardLimit]  how the worker ends code itself (Deno), for `stopCodeAfterMs`
 * @param {import("./memory-figure.js").MemoryFigure | null} [figure]  keeps this worker's memory figure
 *   (Deno; without it none is kept)
 */
export function serveSandbox(scope, post, postToolCall = post, pyodideModules = () => null, hardLimit = null,
  figure = null) {
  let session = null;
  let jspiAnswers = null;
  let key = ""; // the frame key of this worker's messages: given at boot, never seen by Python
  let gate = null; // Int32Array: how many messages the parent has posted here (see idle())
  let received = 0;
  const queue = [];
  let busy = false;
  let resolveWasm;
  const wasm = new Promise((resolve) => { resolveWasm = resolve; });
  // Everything this worker says goes out framed with the key; code that posts on its own is dropped.
  const send = (text) => post({ k: key, m: text });
  const sendToolCall = (text) => postToolCall({ k: key, m: text });

  async function pump() {
    if (busy) return;
    busy = true;
    try {
      while (queue.length) {
        const data = queue.shift();
        if (data?.kind === "boot") {
          key = String(data.key ?? "");
          delete data.key;
          gate = data.gate ? new Int32Array(data.gate) : null;
          if (data.memory && figure) memoryFigure = figure.start(new Int32Array(data.memory));
          const booted = await boot(data, send, (snapshot) => post({ k: key, snapshot }), wasm, sendToolCall,
            pyodideModules(), hardLimit);
          session = booted?.session ?? null;
          jspiAnswers = booted?.answers ?? null;
          data.files = data.snapshot = data.pyodideSource = data.asmSource = null; // the boot's bytes: free
        } else if (session) {
          const reply = await answer(session, data);
          memoryFigure?.publish();
          send(reply);
        }
      }
    } catch (error) {
      session = null; // its Python may be half way through anything: this worker serves no more
      send(encode({ type: "crashed", reason: String(error?.stack ?? error) }));
    } finally {
      busy = false;
    }
    if (session && !queue.length) idle();
  }

  // Between requests the worker sleeps until its parent posts again: timers, promises or tasks that
  // generated code left behind get no CPU (nor memory) after the step that started them has answered.
  function idle() {
    if (!gate) return;
    while (Atomics.load(gate, 0) === received) Atomics.wait(gate, 0, received);
  }

  /**
   * The framed `result` for one request. Python returns only its body ({ok, value | error}); the
   * envelope (type, the request's id) is made here, where generated code cannot reach. A body that is
   * not one (too big, too deep, not JSON: the runtime was tampered with) fails the sandbox, which the
   * host replaces. A KeyboardInterrupt that lands in the protocol's own Python around the code (an
   * interrupt meant for code that has just finished) leaves the code's state intact: answered as
   * interrupted, the sandbox is kept.
   */
  async function answer(session, data) {
    let request;
    try {
      request = decode(data, REQUEST_TYPES);
    } catch (error) {
      return encode({ type: "log", text: `the sandbox ignored a message: ${error.message}` });
    }
    const id = request.id ?? 0;
    // An interrupt is for the code of a run: one left over (it came as the last run ended) must not
    // stop the next request. The host clears it itself when it sends a run.
    if (request.type !== "run") session.clearInterrupt();
    let body;
    try {
      stepRunning = request.type === "run";
      body = await session.handle(data, stepRunning);
    } catch (error) {
      if (error?.type !== "KeyboardInterrupt") throw error;
      return encode({ type: "result", id, ok: false,
        error: { type: "KeyboardInterrupt", message: "the request was interrupted" } });
    } finally {
      stepRunning = false;
    }
    let reply;
    try {
      reply = readBody(body);
    } catch (error) {
      return encode({ type: "crashed", reason: `the sandbox's answer to a request could not be read (${error.message}): `
        + "its runtime was changed by the code, or the answer was too big" });
    }
    return encode(reply.ok ? { type: "result", id, ok: true, value: reply.value ?? null }
      : { type: "result", id, ok: false, error: { type: String(reply.error?.type ?? "Error"),
        message: String(reply.error?.message ?? "the request failed") } });
  }

  function receive(data) {
    received++;
    if (data?.kind === "wasm") return resolveWasm(data.module);
    // In JSPI mode a tool answer arrives while Python waits: deliver it at once.
    if (typeof data === "string" && jspiAnswers) {
      let message = null;
      try { message = decode(data, ["tool_result", "interrupt"]); } catch { /* a request: queue it */ }
      if (message?.type === "interrupt") return jspiAnswers.interruptAll(session?.clearInterrupt);
      if (message && jspiAnswers.deliver(message.id, data)) return;
    }
    queue.push(data);
    pump();
  }

  // Only messages from the parent: an event that code dispatches itself is not trusted.
  scope.addEventListener("message", (event) => event.isTrusted && receive(event.data));
  // Diagnostics for the host (the worker's console, say), framed like the rest.
  const log = (text) => send(encode({ type: "log", text: String(text).slice(0, 2000) }));
  return { receive, log };
}

/** Python's answer body ({ok, value | error} as JSON text), checked before it is parsed. */
function readBody(text) {
  if (typeof text !== "string") throw new ProtocolError(`not text but ${typeof text}`);
  checkShape(text, MAX_MESSAGE_CHARS, MAX_MESSAGE_DEPTH - 1);
  const body = parseJSON(text);
  if (body === null || typeof body !== "object" || typeof body.ok !== "boolean") throw new ProtocolError("not an answer");
  return body;
}

/**
 * @param {Boot} boot
 * @param {(text: string) => void} send        a protocol message to the parent, framed
 * @param {(bytes: Uint8Array) => void} postSnapshot
 * @param {Promise<WebAssembly.Module>} wasm the compiled module, when `boot.wasmModule`
 * @param {(text: string) => void} sendToolCall  a `tool_call` to the host, framed
 * @param {PyodideModules | null} imported  Pyodide's modules, when the worker imported them itself
 * @param {HardLimit | null} hardLimit  see serveSandbox
 */
async function boot(boot, send, postSnapshot, wasm, sendToolCall, imported, hardLimit) {
  const started = performance.now();
  const files = boot.files;
  limitMemory(boot.maxMemoryBytes);
  // Pyodide's only source of bytes. With the module compiled elsewhere, its fetch of pyodide.asm.wasm gets
  // an empty answer that nobody reads: a refusal would reject while Pyodide awaits something else first.
  globalThis.fetch = fetchShim(boot.wasmModule ? { ...files, "pyodide.asm.wasm": new Uint8Array(0) } : files);
  const instantiateStreaming = WebAssembly.instantiateStreaming;
  if (boot.wasmModule) {
    // Pyodide instantiates its wasm from the fetch of pyodide.asm.wasm: use the compiled module instead.
    WebAssembly.instantiateStreaming = async (_response, imports) => {
      const module = await wasm;
      if (boot.endOnKill && boot.interrupt) endOnKill(imports, new Int32Array(boot.interrupt));
      memoryFigure?.watch(imports);
      const instance = await WebAssembly.instantiate(module, imports);
      if (instance.exports.memory instanceof WebAssembly.Memory) memoryFigure?.count(instance.exports.memory);
      return { module, instance };
    };
  }
  const { loadPyodide, createPyodideModule } = imported ?? await importPyodide(boot);
  const importedAt = performance.now();
  const pyodide = await loadPyodide({
    indexURL: ORIGIN,
    stdLibURL: ORIGIN + "python_stdlib.zip",
    packageBaseUrl: ORIGIN,
    lockFileContents: new TextDecoder().decode(files["pyodide-lock.json"]),
    createPyodideModule,
    // Writes to fds 1/2 that bypass the runner's capture are dropped: they must not reach the host's stdout.
    stdout: () => {},
    stderr: () => {},
    _makeSnapshot: Boolean(boot.makeSnapshot),
    _loadSnapshot: boot.snapshot,
    _snapshotZeroPages: boot.snapshotZeroPages,
  });
  const loaded = performance.now();
  // Pyodide keeps its options in `pyodide._api.config`, which code reaches; in Deno the snapshot is one
  // SharedArrayBuffer for every worker of the process: written there, it would be what every later
  // sandbox (the next run's, other agents') starts from. Pyodide reads it only while it loads.
  const config = pyodide._api?.config;
  if (config) {
    delete config._loadSnapshot;
    delete config._snapshotZeroPages;
  }
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
    postSnapshot(pyodide.makeMemorySnapshot());
    return null;
  }
  if (boot.interrupt) {
    pyodide.setInterruptBuffer(new Int32Array(boot.interrupt));
  }
  const bridge = boot.channel ? atomicsBridge(boot.channel, boot.interrupt, sendToolCall) : jspiBridge(sendToolCall);
  const module = pyodide.pyimport("wasm_agent.executor.sandbox_main");
  const pySession = module.SandboxSession(bridge.callHost, boot.interrupt ? interruptibleSleep(boot.interrupt) : null);
  const handle = pySession.handle;
  // Entered through JSPI where it exists, so code may block on promises (asyncio.run, run_sync).
  const jspi = typeof WebAssembly.Suspending === "function";
  const interruptView = boot.interrupt ? new Int32Array(boot.interrupt) : null;
  const call = jspi ? (text) => handle.callPromising(text) : (text) => handle(text);
  if (boot.stopCodeAfterMs && hardLimit && !hardLimit.runWithin) throw new Error("this worker has no hard limit to run code within");
  const limited = boot.stopCodeAfterMs && hardLimit
    ? withHardLimit(pyodide, jspi, call, hardLimit, boot, (reason) => send(encode({ type: "crashed", reason })))
    : call;
  const session = {
    handle: (text, isRun) => (isRun ? limited(text) : call(text)),
    clearInterrupt: () => interruptView && Atomics.store(interruptView, 0, 0),
  };
  memoryFigure?.publish();
  send(encode({
    type: "ready", startup_ms: Math.round(performance.now() - started), snapshot: Boolean(boot.snapshot),
    // start: from the worker's creation (its time origin) to this boot: its runtime and modules loaded.
    phases_ms: { start: Math.round(started), import: Math.round(importedAt - started),
                 load: Math.round(loaded - importedAt), setup: Math.round(performance.now() - loaded) },
    bridge: boot.channel ? "atomics" : "jspi", interrupts: Boolean(boot.interrupt),
  }));
  return { session, answers: boot.channel ? null : bridge };
}

/**
 * How a worker ends code itself, whatever the code does (Deno: web/sandbox/deno-worker.js).
 * @typedef {object} HardLimit
 * @property {((call: () => any, timeoutMs: number) => any) | null} runWithin  runs `call`; past `timeoutMs` it is
 *   ended wherever it is (throws then, with code ERR_SCRIPT_EXECUTION_TIMEOUT); null: this worker has none
 * @property {() => void} endSelf  ends this worker now: nothing of it runs after this call
 */

/**
 * `call` (the code of a run) under the hard limit `boot.stopCodeAfterMs`. It covers Python from its entry
 * until it returns or awaits a promise (JSPI): a callPromising enters Python in a later task, through
 * Pyodide's `promisingApply`, which is wrapped here. Python that resumes after a promise runs outside the
 * limit; `boot.within` tells the parent which it is, and a worker whose code awaits ends itself from its
 * event loop when its parent asks (deno/sandbox_workers.js endRunning). Code ended at the limit leaves
 * Python half way through anything: the worker reports `crashed` (its parent replaces it) and the request
 * is never answered (nothing reaches Pyodide, which would take the error for a fatal one of its own).
 */
function withHardLimit(pyodide, jspi, call, { runWithin, endSelf }, boot, crashed) {
  const within = boot.within ? new Int32Array(boot.within) : null;
  if (within) {
    // Fires only while the event loop is free: between requests the worker sleeps (idle), and code that
    // runs holds the thread.
    setInterval(() => {
      if (Atomics.load(within, 1) !== 1) return;
      Atomics.store(within, 2, 1);
      endSelf();
    }, 20);
  }
  const underLimit = (enter) => {
    if (within) Atomics.store(within, 0, 1);
    try {
      return runWithin(enter, boot.stopCodeAfterMs);
    } catch (error) {
      if (error?.code !== "ERR_SCRIPT_EXECUTION_TIMEOUT") throw error;
      crashed(`the code ran past its hard limit of ${boot.stopCodeAfterMs / 1000} s and ignored every interrupt, `
        + "so it was ended with its worker");
      return new Promise(() => {});
    } finally {
      if (within) Atomics.store(within, 0, 0);
    }
  };
  if (!jspi) return (text) => underLimit(() => call(text));
  const module = pyodide._module;
  const promisingApply = module.promisingApply;
  if (typeof promisingApply !== "function") throw new Error("Pyodide's promisingApply was not found");
  let limitNext = false;
  module.promisingApply = (...args) => {
    if (!limitNext) return promisingApply(...args);
    limitNext = false;
    return underLimit(() => promisingApply(...args));
  };
  return (text) => {
    limitNext = true;
    return call(text);
  };
}

/** Pyodide's modules from their text in the boot message (compiled anew in every worker). */
async function importPyodide(boot) {
  const blobUrl = (text) => URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
  const { loadPyodide } = await import(blobUrl(boot.pyodideSource));
  const asm = await import(blobUrl(boot.asmSource));
  return { loadPyodide, createPyodideModule: asm.default };
}

/**
 * The `tool_call` for Python's request `{name, args, kwargs}` (JSON text): the envelope and the id are
 * made here. Returns [id, text], or [id, null, the `tool_result` text refusing it]: malformed, or made
 * while no step's code runs (by a timer or task that code left behind, between steps).
 */
let toolCallIds = 0;
let stepRunning = false; // a `run` request is being answered
function toolCall(body) {
  const id = ++toolCallIds;
  try {
    if (!stepRunning) throw new ProtocolError("tools can be called only while a step's code runs");
    if (typeof body !== "string") throw new ProtocolError("not text");
    checkShape(body, MAX_MESSAGE_CHARS, MAX_MESSAGE_DEPTH - 1);
    const { name, args, kwargs } = parseJSON(body);
    return [id, encode({ type: "tool_call", id, name: String(name), args: args ?? [], kwargs: kwargs ?? {} })];
  } catch (error) {
    return [id, null, encode({ type: "tool_result", id, ok: false,
      error: { type: "ProtocolError", message: `the tool call cannot be sent: ${error.message}` } })];
  }
}

// Emscripten grows the heap with Memory.prototype.grow and treats a throw as "no memory": malloc fails
// and Python raises MemoryError. Not configurable afterwards, so generated code cannot lift the limit
// (it can only lower it); the size is read with getters taken now, which code cannot redefine for it.
function limitMemory(maxBytes) {
  if (!maxBytes) return;
  const grow = WebAssembly.Memory.prototype.grow;
  Object.defineProperty(WebAssembly.Memory.prototype, "grow", {
    value: function grow_(pages) {
      if (wasmBytes(this) + pages * 65536 > maxBytes) {
        throw new RangeError(`the sandbox's memory limit of ${maxBytes >> 20} MB is reached`);
      }
      const result = apply(grow, this, [pages]);
      memoryFigure?.count(this);
      memoryFigure?.publish();
      return result;
    },
    writable: false,
    configurable: false,
  });
}

function fetchShim(files) {
  return async (resource) => {
    const url = String(resource?.url ?? resource);
    const name = url.startsWith(ORIGIN) ? url.slice(ORIGIN.length) : null;
    if (name && Object.hasOwn(files, name)) {
      if (name.endsWith(".wasm")) return new Response(files[name], { headers: { "content-type": "application/wasm" } });
      // Pyodide reads only `ok` and the bytes of the others (the standard library's 2.5 MB zip, which it copies
      // into its file system): a Response would copy them twice more, for the garbage collector.
      const bytes = ArrayBuffer.isView(files[name]) ? files[name] : new Uint8Array(files[name]);
      const whole = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      return { ok: true, status: 200, arrayBuffer: async () => (whole ? bytes.buffer : bytes.slice().buffer) };
    }
    throw new TypeError(`the sandbox has no network (fetch of ${url.slice(0, 200)} refused)`);
  };
}

// A memory figure of this worker for its parent's watch (Deno: web/sandbox/memory-figure.js), or null.
let memoryFigure = null;

/** The size of a wasm memory, read with getters taken before code ran (code can redefine `buffer`). */
export function wasmBytes(memory) {
  const buffer = apply(memoryBuffer, memory, []);
  for (let i = 0; i < bufferBytes.length; i++) {
    try { return apply(bufferBytes[i], buffer, []); } catch { /* the other kind (shared or not) */ }
  }
  return 0;
}

/** Stored in the interrupt buffer by a host about to end this worker (deno/sandbox_workers.js). */
export const KILL = 3;

// The last resort for code that catches every KeyboardInterrupt: the host stores KILL, and the
// interpreter's next signal check (every few dozen bytecodes) throws out of Python altogether, so the
// worker's thread gets back to its event loop, where Deno can end it (it cannot end a thread that
// spins in wasm, nor one blocked in Atomics.wait). The check is wrapped where Pyodide's wasm imports
// it, before instantiation: generated code can neither undo that nor swap the buffer it reads, and
// every other value reaches Pyodide's own check untouched, so interrupts work as without it.
function endOnKill(imports, view) {
  const checkSignals = imports.env?._Py_CheckEmscriptenSignals_Helper;
  if (typeof checkSignals !== "function") throw new Error("Pyodide's signal check was not found among its imports");
  imports.env._Py_CheckEmscriptenSignals_Helper = function checkSignalsOrEnd() {
    if (Atomics.load(view, 0) === KILL) throw new Error("the sandbox worker is being ended");
    return checkSignals();
  };
}

// time.sleep for Python that wakes when the interrupt buffer is set (Pyodide's own sleep misses it).
// Returns true when interrupted, and consumes the interrupt (Python raises it).
function interruptibleSleep(interruptBuffer) {
  const interrupt = new Int32Array(interruptBuffer);
  return (ms) => {
    memoryFigure?.publish(); // the worker takes nothing while it sleeps: what it holds is known meanwhile
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
    callHost(body) {
      const [id, text, refusal] = toolCall(body);
      if (refusal) return refusal;
      Atomics.store(control, 0, 0);
      memoryFigure?.publish(); // likewise while it waits for the answer
      post(text);
      for (;;) {
        Atomics.wait(control, 0, 0, 50);
        if (Atomics.load(control, 0) === 1) {
          const length = Atomics.load(control, 1);
          const answer = decoder.decode(new Uint8Array(channel.data, 0, length).slice());
          if (parseJSON(answer).id === id) return answer;
          Atomics.store(control, 0, 0);  // an answer to some other (forged) call: keep waiting
        } else if (interrupt && Atomics.load(interrupt, 0) === KILL) {
          throw new Error("the sandbox worker is being ended"); // Python's next signal check ends it
        } else if (interrupt && Atomics.load(interrupt, 0) === 2) {
          Atomics.store(interrupt, 0, 0);  // consumed here, so Python does not raise it twice
          return encode({ type: "tool_result", id, ok: false, interrupted: true });
        }
      }
    },
  };
}

// Returns a promise; Python waits for it with run_sync (JSPI).
function jspiBridge(post) {
  const waiting = new Map();
  return {
    callHost(body) {
      const [id, text, refusal] = toolCall(body);
      if (refusal) return Promise.resolve(refusal);
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        post(text);
      });
    },
    /** Fail the calls Python waits for as interrupted; that consumes the interrupt buffer's signal, which
     * would otherwise land wherever Python is as it resumes (in Pyodide's event loop, say). */
    interruptAll(clearInterrupt) {
      if (waiting.size) clearInterrupt?.();
      for (const id of [...waiting.keys()]) {
        this.deliver(id, encode({ type: "tool_result", id, ok: false, interrupted: true }));
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
