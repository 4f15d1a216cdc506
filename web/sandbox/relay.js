// The relay between a sandbox's host and its workers, the one core of both: the browser's sandbox
// page (page.js; build_html.py inlines this file there, pinned by its hash) and Deno's
// (deno/sandbox_workers.js imports it). The host side of each only starts workers and talks to its
// host; this keeps one worker serving and, with `spare`, a booted second one that replaces it at
// once; replaces a worker that crashed or that the host asked to restart; turns `interrupt` into the
// interrupt buffer; answers tool calls through shared memory; limits `log` messages per run. Only
// what a worker's core (core.js) framed with that worker's key is read at all, and a framed message
// that is not a sandbox message means the worker is not what it should be: it is replaced.
//
// Inlined as text: no imports here, and `export` only at the start of a line.

export const MAX_TOOL_ANSWER_BYTES = 64 << 20;
// protocol.js's MAX_MESSAGE_CHARS (the sandbox page can import nothing): longer frames are not read.
export const MAX_FRAME_CHARS = 16 * 1024 * 1024;
const MAX_LOGS_PER_RUN = 50; // a flood of `log` messages stops here, not in the host
const MAX_FAILED_BOOTS = 3; // in a row: past that, the bytes or the runtime are the problem
const SANDBOX_MESSAGE_TYPES = ["ready", "result", "tool_call", "log", "crashed"];
const encoder = new TextEncoder();

/**
 * One worker and what the relay knows of it.
 * @typedef {object} WorkerState
 * @property {Worker} worker
 * @property {string} key                 frames its messages; goes with its boot, never to Python
 * @property {Int32Array | null} gate     the relay adds 1 per message it posts (the core sleeps on it when idle)
 * @property {Int32Array | null} interrupt Pyodide's interrupt buffer
 * @property {Int32Array | null} control  atomics tool bridge: [answer written, its length]
 * @property {SharedArrayBuffer | null} data  atomics tool bridge: the answer's bytes (growable)
 * @property {Set<number>} runs           ids of `run` requests not answered yet
 * @property {Set<number> | null} toolCalls ids of tool calls not answered yet (null: calls bypass the relay)
 * @property {object | null} booted       its `ready` message, once Pyodide is loaded
 * @property {object | null} ready        the same, once warmed up: from then on it may serve the host
 * @property {string} readyText           that message as the worker sent it
 */

/**
 * @typedef {object} RelayOptions
 * @property {(state: WorkerState) => Worker} spawn   a new worker (its key and buffers are in `state`)
 * @property {(state: WorkerState) => void} boot      post its boot message (with `toWorker`)
 * @property {(message: object, text: string) => void} emit  a sandbox message for the host, and its text
 * @property {(state: WorkerState) => void} activate  this worker serves the host from now on: announce it
 * @property {(reason: string) => void} onFatal       the sandbox cannot run; every worker is ended
 * @property {(text: string) => object} [read]        parse and check a framed message; throws if it is none
 * @property {boolean} [sharedMemory]     SharedArrayBuffer is usable: gate and interrupt buffers
 * @property {boolean} [atomicsBridge]    tool calls block on shared memory (else JSPI: answers are messages)
 * @property {boolean} [toolCallsBypass]  tool calls reach the host on a port of their own, not through here
 * @property {boolean} [spare]            keep a second worker booted, so that a restart is immediate
 * @property {number} [spareDelayMs]      wait this long after a worker took over before booting a spare
 * @property {object[]} [warmUp]          requests every worker answers before it serves (ids are the relay's)
 * @property {boolean} [replaceable]      false: losing the worker is fatal (a boot that makes a snapshot)
 * @property {(state: WorkerState) => void} [beforeEnd]  a worker is about to be terminated
 * @property {(state: WorkerState, end: () => void) => void} [endRunning]  a worker is to be ended while a run
 *   it got has not answered: its code may go on (Deno ends a worker only once its thread is back in its event
 *   loop); `end` terminates it, now or later (without this option: now)
 * @property {(state: WorkerState, reason: string) => void} [onBootFailed]  it ended before it was ready
 * @property {(state: WorkerState, serving: boolean) => void} [onReady]  it is ready (serving, or the spare)
 * @property {(bytes: Uint8Array) => void} [onSnapshot]  a worker's memory snapshot
 */

export class SandboxRelay {
  #options;
  #active = null; // the worker that serves the host
  #spare = null; // a worker booting or booted, waiting to replace it
  #failedBoots = 0;
  #spareTimer;
  #closed = false;

  /** @param {RelayOptions} options */
  constructor(options) {
    this.#options = { read: readFrame, sharedMemory: true, atomicsBridge: true, toolCallsBypass: false, spare: false,
      spareDelayMs: 0, warmUp: [], replaceable: true, ...options };
    this.#active = this.#start();
  }

  /** The serving worker, or null once closed. */
  get active() {
    return this.#active;
  }

  /** Every worker of this relay: the serving one and the spare. */
  get workers() {
    return [this.#active, this.#spare].filter(Boolean);
  }

  /** A request of the host: the message, checked by the caller, and its JSON text (what the worker gets). */
  handle(message, text) {
    const state = this.#active;
    if (!state) return;
    switch (message.type) {
      case "interrupt":
        // Once per run: the host may send several (the user's, the cancelled step's), and a second
        // would land in code that the first has already stopped.
        if (state.interrupt && state.runs.size && !state.interrupted) {
          state.interrupted = true;
          Atomics.store(state.interrupt, 0, 2);
          Atomics.notify(state.interrupt, 0); // wakes a sleeping time.sleep
        }
        if (!state.control) toWorker(state, text); // JSPI: fails a pending tool call
        return;
      case "restart":
        return this.replace(state, "restart requested", true);
      case "tool_result":
        // Only for a call the code still waits for: a late answer (the step was stopped) is dropped.
        if (state.toolCalls && !state.toolCalls.delete(message.id)) return;
        return state.control ? answerTool(state, text) : toWorker(state, text);
      case "run":
        if (state.interrupt) Atomics.store(state.interrupt, 0, 0);
        state.interrupted = false;
        state.runs.add(message.id);
        state.logs = 0;
        return toWorker(state, text);
      default:
        return toWorker(state, text);
    }
  }

  /** End `state`'s worker; the spare (or a new worker) takes over. The host hears of it unless it asked. */
  replace(state, reason, requested = false) {
    this.#end(state);
    if (state === this.#spare) {
      this.#spare = null;
      return;
    }
    if (state !== this.#active) return;
    if (!state.ready && !requested) {
      this.#failedBoots++;
      this.#options.onBootFailed?.(state, reason);
    }
    if (!this.#options.replaceable) return this.#fatal(reason);
    if (this.#failedBoots >= MAX_FAILED_BOOTS) {
      return this.#fatal(`the sandbox failed to start ${MAX_FAILED_BOOTS} times; last: ${reason}`);
    }
    if (!requested) this.#emitOwn({ type: "crashed", reason });
    this.#active = this.#spare ?? this.#start();
    this.#spare = null;
    if (this.#active.ready) this.#activate(this.#active);
  }

  /** End every worker; nothing more is sent to the host. */
  close() {
    this.#closed = true;
    clearTimeout(this.#spareTimer);
    for (const state of this.workers) this.#end(state);
    this.#active = this.#spare = null;
  }

  #start() {
    const { sharedMemory, atomicsBridge, toolCallsBypass } = this.#options;
    const shared = (bytes) => (sharedMemory ? new Int32Array(new SharedArrayBuffer(bytes)) : null);
    /** @type {WorkerState} */
    const state = {
      worker: null,
      key: randomKey(),
      gate: shared(4),
      interrupt: shared(4),
      control: atomicsBridge ? shared(8) : null,
      data: sharedMemory && atomicsBridge
        ? new SharedArrayBuffer(1 << 20, { maxByteLength: MAX_TOOL_ANSWER_BYTES }) : null,
      runs: new Set(),
      toolCalls: toolCallsBypass ? null : new Set(),
      logs: 0,
      interrupted: false,
      booted: null,
      ready: null,
      readyText: "",
    };
    state.worker = this.#options.spawn(state);
    state.worker.onmessage = (event) => this.#onFrame(state, event.data);
    state.worker.onerror = (event) => {
      event.preventDefault();
      this.replace(state, `the sandbox worker failed: ${event.message ?? "unknown error"}`);
    };
    // Code can post what the relay cannot deserialize: like any message it did not frame, not the worker's fault.
    state.worker.onmessageerror = () => {
      if (state === this.#active) this.#emitOwn({ type: "log", text: "a message from the sandbox could not be read" });
    };
    this.#options.boot(state);
    return state;
  }

  #onFrame(state, frame) {
    if (state !== this.#active && state !== this.#spare) return; // from a worker that was replaced
    if (frame?.k !== state.key) return; // not framed by the sandbox core: posted by the code itself
    if (frame.snapshot instanceof Uint8Array) return this.#options.onSnapshot?.(frame.snapshot);
    let message;
    try {
      message = this.#options.read(frame.m);
    } catch (error) {
      return this.replace(state, `the sandbox sent a message that could not be read (${error.message})`);
    }
    const { type, id } = message;
    if (type === "crashed") {
      state.runs.clear(); // its core said so: the worker's thread is back in its own code, and ends
      return this.replace(state, String(message.reason ?? "the sandbox crashed").slice(0, 2000));
    }
    if (type === "ready") {
      if (state.booted) return this.replace(state, "the sandbox said it was ready twice"); // only its boot says it
      state.booted = message;
      state.readyText = frame.m;
      if (!this.#options.warmUp.length) return this.#ready(state);
      // Ids -n..-1: negative ids are the relay's own; the answer to the last one (-1) ends the warm-up.
      const count = this.#options.warmUp.length;
      this.#options.warmUp.forEach((request, index) => toWorker(state, JSON.stringify({ ...request, id: index - count })));
      return;
    }
    if (typeof id === "number" && id < 0) { // answers to the relay's own requests stay here
      if (type === "result" && id === -1 && state.booted && !state.ready) this.#ready(state);
      return;
    }
    if (state !== this.#active) return; // a spare says nothing else until it serves
    if (type === "tool_call") {
      state.toolCalls?.add(id);
    } else if (type === "result") {
      state.toolCalls?.clear();
      state.runs.delete(id);
      if (!state.runs.size && state.interrupt) Atomics.store(state.interrupt, 0, 0); // too late for that run
    } else if (type === "log" && ++state.logs > MAX_LOGS_PER_RUN) {
      return;
    }
    this.#options.emit(message, frame.m);
  }

  #ready(state) {
    state.ready = state.booted;
    this.#failedBoots = 0;
    this.#options.onReady?.(state, state === this.#active);
    if (state === this.#active) this.#activate(state);
  }

  /** The worker serves the host from now on: announce it, then boot a spare behind it. */
  #activate(state) {
    this.#options.activate(state);
    clearTimeout(this.#spareTimer);
    const startSpare = () => {
      if (this.#options.spare && !this.#spare && !this.#closed && this.#active?.ready) this.#spare = this.#start();
    };
    if (this.#options.spareDelayMs) this.#spareTimer = setTimeout(startSpare, this.#options.spareDelayMs);
    else startSpare();
  }

  #end(state) {
    this.#options.beforeEnd?.(state);
    if (state.runs.size && this.#options.endRunning) this.#options.endRunning(state, () => endWorker(state));
    else endWorker(state);
  }

  #emitOwn(message) {
    this.#options.emit(message, JSON.stringify(message));
  }

  #fatal(reason) {
    this.close();
    this.#options.onFatal(reason);
  }
}

/** Every message to a worker goes this way: it wakes the worker if it sleeps between requests. */
export function toWorker(state, message, transfer = []) {
  state.worker.postMessage(message, transfer);
  if (state.gate) {
    Atomics.add(state.gate, 0, 1);
    Atomics.notify(state.gate, 0);
  }
}

/** End a worker. One asleep between requests (Atomics.wait on its gate) is woken first: Deno's terminate
 * does not end a thread blocked there, which then keeps its whole memory (wasm heap, isolate) forever. */
function endWorker(state) {
  if (state.gate) {
    Atomics.add(state.gate, 0, 1);
    Atomics.notify(state.gate, 0);
  }
  state.worker.terminate();
}

/** The default check of a framed message: JSON text within the size limit, of a sandbox message type. */
export function readFrame(text) {
  if (typeof text !== "string") throw new TypeError(`a message must be text, not ${typeof text}`);
  if (text.length > MAX_FRAME_CHARS) throw new RangeError(`a message of ${text.length} characters`);
  const message = JSON.parse(text);
  if (!SANDBOX_MESSAGE_TYPES.includes(message?.type)) throw new TypeError("not a sandbox message");
  return message;
}

// Written into shared memory for the worker blocked in Atomics.wait.
function answerTool(state, text) {
  let bytes = encoder.encode(text);
  if (bytes.length > MAX_TOOL_ANSWER_BYTES) {
    const id = JSON.parse(text).id;
    bytes = encoder.encode(JSON.stringify({
      type: "tool_result", id, ok: false,
      error: { type: "AgentToolExecutionError", message: `the tool's result is over ${MAX_TOOL_ANSWER_BYTES} bytes` },
    }));
  }
  if (state.data.byteLength < bytes.length) state.data.grow(bytes.length);
  new Uint8Array(state.data).set(bytes);
  Atomics.store(state.control, 1, bytes.length);
  Atomics.store(state.control, 0, 1);
  Atomics.notify(state.control, 0);
}

function randomKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
