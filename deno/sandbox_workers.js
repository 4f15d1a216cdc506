// The permissionless sandbox workers of one Deno process, and the logic that keeps one serving.
// Both hosts reach it through `openSandboxPort`, a MessagePort that a SandboxClient of
// web/sandbox-client.js drives as it drives the browser's sandbox frame: deno/sandbox_host.js
// (for CPython, one port per sandbox, several in one process) and deno/agent.js (the agent in Deno).
//
// `SandboxWorkers` owns the serving worker (deno/sandbox_worker.js, `deno: {permissions: "none"}`)
// and, with `spare`, a booted second one; it restarts on crash, on `restart`, past the memory
// limit; it interrupts through a SharedArrayBuffer and answers tool calls through
// SharedArrayBuffer + Atomics. Protocol messages go in as JSON text (`handle`) and come out
// as checked objects (`emit`); nothing the sandbox sends is trusted, and only what its core
// framed with the worker's key (web/sandbox_core.js) is read at all.

import { decode, SANDBOX_MESSAGE_TYPES } from "../web/protocol.js";
import { KILL } from "../web/sandbox_core.js";

const MAX_TOOL_ANSWER_BYTES = 64 << 20;
const MAX_LOGS_PER_RUN = 50;
// Growth of the process beyond the wasm memory limit that is still the sandbox's own (its JS heap).
const JS_HEAP_ALLOWANCE_MB = 512;
const encoder = new TextEncoder();
// Pyodide's wasm compiled once per process, for every worker of every sandbox (keyed by its bytes).
const compiled = new WeakMap();
// Every SandboxWorkers of this process: memory is the process's, so each one's watch must know when
// another one's worker boots (its growth is not this sandbox's).
const everyone = new Set();

/**
 * What every worker boots from (web/sandbox_core.js reads it).
 * @typedef {object} SandboxBoot
 * @property {string} pyodideSource   text of pyodide.mjs
 * @property {string} asmSource       text of pyodide.asm.mjs
 * @property {Record<string, Uint8Array | ArrayBuffer>} files  pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json
 * @property {Record<string, string>} pythonFiles  sandbox path -> source
 * @property {Uint8Array | (() => Uint8Array | undefined) | undefined} [snapshot]  a memory snapshot to start
 *   from, or a function that gives it for each boot (a SharedArrayBuffer view is shared by the workers, not copied)
 * @property {(reason: string) => void} [snapshotFailed]  a worker booted from the snapshot failed before
 *   it was ready: the host should stop offering it (the next boots are then cold)
 */

/**
 * @typedef {object} SandboxOptions
 * @property {(message: object) => void} emit   a message for the host (result, tool_call, ready, crashed, log)
 * @property {(reason: string) => void} onFatal the sandbox cannot start (3 failed boots in a row)
 * @property {"atomics" | "jspi"} [bridge]      how tool calls block in the worker
 * @property {boolean} [spare]                  keep a second sandbox booted, so a restart is immediate
 * @property {number | null} [memoryMb]  the sandbox's memory limit: its wasm memory may not grow past it
 *   (MemoryError in Python), and it is restarted when the process grows by more than this plus
 *   JS_HEAP_ALLOWANCE_MB since the sandbox became ready (a worker's memory is not measurable alone,
 *   so growth is what is watched, at all times)
 * @property {(bytes: Uint8Array) => void} [onSnapshot]  boot once, make a memory snapshot, hand it here
 */

export class SandboxWorkers {
  #boot;
  #options;
  #wasmModule; // Pyodide's wasm, compiled once for every worker of this process (a restart skips the compile)
  #sandbox = null; // the worker that serves requests
  #spare = null; // a booted worker that replaces it at once when it dies
  #crashesInARow = 0;
  #memoryTimer;

  /** @param {SandboxBoot} boot @param {SandboxOptions} options */
  constructor(boot, options) {
    const { "pyodide.asm.wasm": wasm, ...files } = boot.files;
    this.#boot = { ...boot, files };
    this.#options = { bridge: "atomics", spare: false, memoryMb: null, ...options };
    if (!compiled.has(wasm)) compiled.set(wasm, WebAssembly.compile(wasm));
    this.#wasmModule = compiled.get(wasm);
    if (this.#options.memoryMb) this.#memoryTimer = setInterval(() => this.#watchMemory(), 100);
    everyone.add(this);
    this.#sandbox = this.#startWorker();
  }

  /** Workers of this sandbox that are booting: the process grows for them, not for the code. */
  get booting() {
    return [this.#sandbox, this.#spare].filter((state) => state && !state.ready);
  }

  /** Another sandbox's worker of this process became ready: its growth is not this sandbox's. */
  discount(bytes) {
    if (this.#sandbox?.ready) this.#sandbox.baseline += bytes;
  }

  /** A protocol message from the host, as JSON text. */
  handle(text) {
    let message;
    try {
      message = decode(text);
    } catch (error) {
      return this.#options.emit({ type: "log", text: `sandbox host: ignored a message: ${error.message}` });
    }
    const state = this.#sandbox;
    if (!state) return;
    switch (message.type) {
      case "interrupt":
        // Once per run: the host may send several (the user's, the cancelled step's), and a second
        // would land in code that the first has already stopped.
        if (state.runs.size && !state.interrupted) {
          state.interrupted = true;
          Atomics.store(state.interrupt, 0, 2);
          Atomics.notify(state.interrupt, 0); // wakes a sleeping time.sleep
        }
        if (!state.control) toWorker(state, text);
        return;
      case "restart":
        return this.#replace(state, "restart requested", true);
      case "tool_result":
        // Only for a call the code still waits for: a late answer (the step was stopped) is dropped.
        if (!state.toolCalls.delete(message.id)) return;
        return state.control ? answerTool(state, text) : toWorker(state, text);
      case "run":
        Atomics.store(state.interrupt, 0, 0);
        state.interrupted = false;
        state.runs.add(message.id);
        return toWorker(state, text);
      default:
        return toWorker(state, text);
    }
  }

  /** End every worker. */
  close() {
    everyone.delete(this);
    clearInterval(this.#memoryTimer);
    for (const state of [this.#sandbox, this.#spare]) if (state) endWorker(state);
    this.#sandbox = this.#spare = null;
  }

  #startWorker() {
    const worker = new Worker(new URL("./sandbox_worker.js", import.meta.url), {
      type: "module",
      deno: { permissions: "none" },
    });
    const atomics = this.#options.bridge === "atomics";
    const state = {
      worker,
      key: crypto.randomUUID(),
      gate: new Int32Array(new SharedArrayBuffer(4)), // messages posted to it (sandbox_core.js idle)
      interrupt: new Int32Array(new SharedArrayBuffer(4)),
      control: atomics ? new Int32Array(new SharedArrayBuffer(8)) : null,
      data: atomics ? new SharedArrayBuffer(1 << 20, { maxByteLength: MAX_TOOL_ANSWER_BYTES }) : null,
      runs: new Set(),
      toolCalls: new Set(), // ids of tool calls not answered yet
      logs: 0,
      ready: null, // the `ready` message, once booted
      baseline: 0,
    };
    worker.onmessage = (event) => this.#onSandboxMessage(state, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#replace(state, `the sandbox worker failed: ${event.message}`);
    };
    worker.onmessageerror = () => this.#options.emit({ type: "log", text: "a message from the sandbox could not be read" });
    const { snapshot: readSnapshot, snapshotFailed: _, ...boot } = this.#boot;
    const snapshot = typeof readSnapshot === "function" ? readSnapshot() : readSnapshot;
    state.fromSnapshot = Boolean(snapshot);
    state.rssBefore = Deno.memoryUsage().rss;
    toWorker(state, {
      ...boot,
      kind: "boot",
      key: state.key,
      gate: state.gate.buffer,
      maxMemoryBytes: (this.#options.memoryMb ?? 0) * 1024 * 1024,
      endOnKill: true, // see endWorker
      snapshot,
      makeSnapshot: Boolean(this.#options.onSnapshot),
      wasmModule: true, // comes in its own message when compiled, while the worker imports Pyodide
      interrupt: state.interrupt.buffer,
      channel: atomics ? { control: state.control.buffer, data: state.data } : undefined,
    }, snapshot?.buffer instanceof ArrayBuffer && typeof readSnapshot === "function" ? [snapshot.buffer] : []); // read for this boot: moved; shared: not copied
    this.#wasmModule.then((module) => toWorker(state, { kind: "wasm", module }));
    return state;
  }

  /** Terminate a worker; the spare (or a new worker) takes over. Tell the host unless it asked. */
  #replace(state, reason, requested = false) {
    endWorker(state);
    if (state === this.#spare) {
      this.#spare = null;
      return;
    }
    if (this.#sandbox !== state) return;
    if (!state.ready && state.fromSnapshot) this.#boot.snapshotFailed?.(reason);
    this.#crashesInARow += state.ready ? 0 : 1;
    if (this.#options.onSnapshot) return this.#fatal(reason);
    if (this.#crashesInARow >= 3) return this.#fatal(`the sandbox failed to start 3 times; last: ${reason}`);
    if (!requested) this.#options.emit({ type: "crashed", reason });
    this.#sandbox = this.#spare ?? this.#startWorker();
    this.#spare = null;
    if (this.#sandbox.ready) this.#activate(this.#sandbox);
  }

  #fatal(reason) {
    this.close();
    this.#options.onFatal(reason);
  }

  /** The serving worker is ready: tell the host, then boot a spare behind it. */
  #activate(state) {
    state.baseline = Deno.memoryUsage().rss;
    this.#options.emit({ ...state.ready, host_ms: Math.round(performance.now()) }); // since this process started
    if (this.#options.spare && !this.#spare) this.#spare = this.#startWorker();
  }

  #onSandboxMessage(state, frame) {
    if (this.#sandbox !== state && this.#spare !== state) return; // from a worker that was replaced
    if (frame?.k !== state.key) return; // not framed by the sandbox core: posted by the code itself
    if (this.#options.onSnapshot && frame.snapshot instanceof Uint8Array) return this.#options.onSnapshot(frame.snapshot);
    let message;
    try {
      message = decode(frame.m, SANDBOX_MESSAGE_TYPES);
    } catch (error) {
      // Framed by the core yet unreadable: the worker is not what it should be. A fresh one.
      return this.#replace(state, `the sandbox sent a message that could not be read (${error.message})`);
    }
    if (message.type === "crashed") {
      return this.#replace(state, String(message.reason ?? "the sandbox crashed").slice(0, 2000));
    }
    if (message.type === "ready" && !state.ready) {
      state.ready = { ...message, spare: state !== this.#sandbox || undefined };
      this.#crashesInARow = 0;
      // This worker's memory is not growth of the serving sandboxes (this one's, or others').
      const grown = Deno.memoryUsage().rss - state.rssBefore;
      for (const workers of everyone) if (workers !== this || state !== this.#sandbox) workers.discount(grown);
      if (state === this.#sandbox) return this.#activate(state);
      return;
    }
    if (state !== this.#sandbox) return; // a spare says nothing else until it serves
    if (message.type === "tool_call") {
      state.toolCalls.add(message.id);
    } else if (message.type === "result") {
      state.toolCalls.clear();
      state.runs.delete(message.id);
      if (!state.runs.size) Atomics.store(state.interrupt, 0, 0); // too late for that run: not for the next request
      state.logs = 0;
    } else if (message.type === "log" && ++state.logs > MAX_LOGS_PER_RUN) {
      return;
    }
    this.#options.emit(message); // re-encoded by the host: one line, whatever the sandbox sent
  }

  #watchMemory() {
    const sandbox = this.#sandbox;
    const rss = Deno.memoryUsage().rss;
    // At all times (code may leave work behind a step), but not while a worker of the process boots:
    // its growth is its own.
    if (sandbox?.ready && ![...everyone].some((workers) => workers.booting.length)
      && rss - sandbox.baseline > (this.#options.memoryMb + JS_HEAP_ALLOWANCE_MB) * 1024 * 1024) {
      this.#replace(sandbox, `the sandbox used more than ${this.#options.memoryMb} MB of memory`);
    }
  }
}

/**
 * The sandbox behind a MessagePort, speaking the protocol as JSON text the way the browser's
 * sandbox frame does (web/sandbox.js): `new SandboxClient(openSandboxPort(boot, options))`.
 * `{kind: "stop"}` on the port (SandboxClient.close) ends the workers; `{kind: "ping"}` gets a pong.
 * @param {SandboxBoot} boot
 * @param {Omit<SandboxOptions, "emit" | "onFatal" | "onSnapshot">} [options]
 * @returns {MessagePort}
 */
export function openSandboxPort(boot, options = {}) {
  const { port1, port2 } = new MessageChannel();
  const send = (message) => port2.postMessage(JSON.stringify(message));
  const workers = new SandboxWorkers(boot, {
    ...options,
    emit: send,
    onFatal: (reason) => send({ type: "crashed", reason, fatal: true }),
  });
  port2.onmessage = (event) => {
    const kind = event.data?.kind;
    if (kind === "ping") return port2.postMessage({ kind: "pong", n: event.data.n }); // the client's heartbeat: this thread lives
    if (kind !== "stop") return workers.handle(event.data);
    workers.close();
    port2.close();
  };
  return port1;
}

/**
 * Deno ends a worker only once its thread is back in its event loop: not while code spins in wasm or
 * the worker sleeps in Atomics.wait (either would keep its thread, and its memory, for the process's
 * life). KILL in the interrupt buffer throws out of Python (web/sandbox_core.js endOnKill), out of a
 * time.sleep or a tool call; the gate wakes a worker idle between requests.
 */
function endWorker(state) {
  Atomics.store(state.interrupt, 0, KILL);
  Atomics.notify(state.interrupt, 0);
  Atomics.add(state.gate, 0, 1);
  Atomics.notify(state.gate, 0);
  state.worker.terminate();
}

/** Every message to a worker goes this way: it wakes the worker if it sleeps between requests. */
function toWorker(state, message, transfer = []) {
  state.worker.postMessage(message, transfer);
  Atomics.add(state.gate, 0, 1);
  Atomics.notify(state.gate, 0);
}

// Written into shared memory for the worker blocked in Atomics.wait; web/sandbox.js has the same
// function (the browser relay is an inline script pinned by its hash: it can import nothing).
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
