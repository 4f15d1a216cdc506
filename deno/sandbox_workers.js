// The permissionless sandbox workers of one Deno process. Both hosts reach them through
// `openSandboxPort`, a MessagePort that a SandboxClient of web/sandbox-client.js drives as it drives
// the browser's sandbox frame: deno/sandbox_host.js (for CPython, one port per sandbox, several in one
// process) and deno/agent.js (the agent in Deno).
//
// `SandboxWorkers` is Deno's side of the relay core (web/sandbox/relay.js, which the browser's sandbox
// page runs too): it starts the workers (web/sandbox/deno-worker.js, `deno: {permissions: "none"}`),
// boots them, and watches their memory (see watchMemory); the relay keeps one serving. Protocol messages
// go in as JSON text (`handle`) and come out as objects checked by protocol.js (`emit`); nothing the
// sandbox sends is trusted, and only what its core framed with the worker's key is read at all.

import { decode, SANDBOX_MESSAGE_TYPES } from "../web/protocol.js";
import { KILL } from "../web/sandbox/core.js";
import { SandboxRelay, toWorker } from "../web/sandbox/relay.js";

// How long a worker whose code awaits a promise has to end itself (from its event loop) before it is taken
// for one whose code spins past its hard limit.
const SELF_END_WAIT_MS = 1000; // its timer looks every 20 ms; a busy machine can delay that
// Memory of a sandbox beyond its wasm memory limit that is still its own (its JS heap).
const JS_HEAP_ALLOWANCE_MB = 512;
// Pyodide's wasm compiled once per process, for every worker of every sandbox (keyed by its bytes).
const compiled = new WeakMap();
// Every SandboxWorkers of this process: one memory watch looks at them all.
const everyone = new Set();
let memoryTimer = null;
let lastRss = null; // the process's resident memory at the last look of watchMemory

/**
 * What every worker boots from (web/sandbox/core.js reads it).
 * @typedef {object} SandboxBoot
 * @property {string} [pyodideURL]    the file: URL of Pyodide's folder: each worker imports pyodide.mjs and
 *   pyodide.asm.mjs from there as modules (the process needs read access to them)
 * @property {string} [pyodideSource] else: text of pyodide.mjs
 * @property {string} [asmSource]     and of pyodide.asm.mjs
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
 *   (MemoryError in Python), and it is restarted once its memory passes this plus JS_HEAP_ALLOWANCE_MB
 *   (see watchMemory)
 * @property {(bytes: Uint8Array) => void} [onSnapshot]  boot once, make a memory snapshot, hand it here
 * @property {(reason: string) => void} [onStuck]  a worker was ended while its code still ran: its thread may
 *   spin on in this process (Deno cannot end a thread busy in wasm), which only the process's end stops
 * @property {number} [stopCodeAfterMs]  the hard limit of a run's code: past it the worker's thread ends the
 *   code itself, interrupt or not (web/sandbox/core.js withHardLimit). A worker ended within that limit
 *   is not stuck; nor one whose code awaits a promise (its event loop ends it). Only code that resumed
 *   after awaiting and spins is out of reach: `onStuck`
 */

export class SandboxWorkers {
  #boot;
  #options;
  #wasmModule; // Pyodide's wasm, compiled once for every worker of this process (a restart skips the compile)
  #relay;

  /** @param {SandboxBoot} boot @param {SandboxOptions} options */
  constructor(boot, options) {
    const { "pyodide.asm.wasm": wasm, ...files } = boot.files;
    this.#boot = { ...boot, files };
    this.#options = { bridge: "atomics", spare: false, memoryMb: null, ...options };
    if (!compiled.has(wasm)) compiled.set(wasm, WebAssembly.compile(wasm));
    this.#wasmModule = compiled.get(wasm);
    everyone.add(this);
    if (this.#options.memoryMb) memoryTimer ??= setInterval(watchMemory, 100);
    const { emit, onFatal, onSnapshot, onStuck, spare, bridge } = this.#options;
    this.#relay = new SandboxRelay({
      atomicsBridge: bridge === "atomics",
      spare,
      // Framed by the core yet unreadable: the worker is not what it should be (the relay replaces it).
      read: (text) => decode(text, SANDBOX_MESSAGE_TYPES),
      spawn: () => new Worker(workerModule(boot.pyodideURL, Boolean(this.#options.stopCodeAfterMs)),
        { type: "module", deno: { permissions: "none" } }),
      boot: (state) => this.#bootWorker(state),
      emit: (message) => emit(message), // re-encoded by the host: one line, whatever the sandbox sent
      activate: (state) => {
        state.grown = 0;
        state.figure = null;
        emit({ ...state.ready, spare: state.wasSpare, host_ms: Math.round(performance.now()) }); // since this process started
      },
      onReady: (state, serving) => {
        state.wasSpare = serving ? undefined : true;
        // This worker's memory is not growth of the serving sandboxes (this one's, or others').
        lastRss = Deno.memoryUsage().rss;
      },
      // Deno ends a worker only once its thread is back in its event loop: not while code spins in wasm or
      // the worker sleeps in Atomics.wait (either would keep its thread, and its memory, for the process's
      // life). KILL in the interrupt buffer throws out of Python (web/sandbox/core.js endOnKill), out of a
      // time.sleep or a tool call; the relay then wakes a worker idle between requests.
      beforeEnd: (state) => {
        Atomics.store(state.interrupt, 0, KILL);
        Atomics.notify(state.interrupt, 0);
      },
      endRunning: (state, end) => endRunning(state, end, () =>
        onStuck?.("a sandbox worker was ended while its code still ran (it ignored its interrupt)")),
      onBootFailed: (state, reason) => {
        if (state.fromSnapshot) this.#boot.snapshotFailed?.(reason);
      },
      replaceable: !onSnapshot,
      onSnapshot,
      onFatal: (reason) => {
        this.close();
        onFatal(reason);
      },
    });
  }

  /** Workers of this sandbox that are booting: the process grows for them, not for the code. */
  get booting() {
    return this.#relay.workers.filter((state) => !state.ready);
  }

  /** A protocol message from the host, as JSON text. */
  handle(text) {
    let message;
    try {
      message = decode(text);
    } catch (error) {
      return this.#options.emit({ type: "log", text: `sandbox host: ignored a message: ${error.message}` });
    }
    if (message.type === "run" && this.#relay.active) this.#relay.active.ran = true;
    this.#relay.handle(message, text);
  }

  /** End every worker. */
  close() {
    everyone.delete(this);
    if (![...everyone].some((workers) => workers.#options.memoryMb)) {
      clearInterval(memoryTimer);
      memoryTimer = lastRss = null;
    }
    this.#relay?.close();
  }

  /**
   * The watch's look at the serving worker, once it is ready: its own memory now (the figure its core
   * writes), how much that grew since the last look, whether it answered a run meanwhile.
   */
  lookAtMemory() {
    const sandbox = this.#relay?.active;
    if (!sandbox?.ready) return null;
    const figure = Atomics.load(sandbox.memory, 0) * 1024;
    const ownGrowth = figure - (sandbox.figure ?? figure);
    sandbox.figure = figure;
    const ran = sandbox.ran;
    sandbox.ran = Boolean(sandbox.runs.size); // (still) answering a run
    return { workers: this, sandbox, figure, ownGrowth, ran };
  }

  /** Charge `bytes` of growth to the serving worker; past the limit, replace it. */
  charge({ sandbox, figure }, bytes) {
    if (!this.#options.memoryMb) return;
    sandbox.grown = Math.max(0, sandbox.grown + bytes);
    const limitMb = this.#options.memoryMb + JS_HEAP_ALLOWANCE_MB;
    if (figure > limitMb * 1024 * 1024 || sandbox.grown > limitMb * 1024 * 1024) {
      this.#relay.replace(sandbox, `the sandbox used more than ${this.#options.memoryMb} MB of memory`);
    }
  }

  #bootWorker(state) {
    const { snapshot: readSnapshot, snapshotFailed: _, ...boot } = this.#boot;
    const snapshot = typeof readSnapshot === "function" ? readSnapshot() : readSnapshot;
    state.fromSnapshot = Boolean(snapshot);
    const { stopCodeAfterMs } = this.#options;
    state.within = stopCodeAfterMs ? new Int32Array(new SharedArrayBuffer(4 * WITHIN_SLOTS)) : null;
    toWorker(state, {
      ...boot,
      kind: "boot",
      key: state.key,
      gate: state.gate.buffer,
      maxMemoryBytes: (this.#options.memoryMb ?? 0) * 1024 * 1024,
      memory: (state.memory = new Int32Array(new SharedArrayBuffer(4))).buffer,
      // Off: with the KILL check in Pyodide's signal check, a user's interrupt of running code was still
      // missed now and then (the run then lost its variables); a worker that ignores every interrupt keeps
      // its thread until its hard limit (stopCodeAfterMs) or the process ends: without the first, the host
      // is told (onStuck) and ends the process.
      endOnKill: false,
      stopCodeAfterMs,
      within: state.within?.buffer,
      snapshot,
      snapshotZeroPages: snapshot ? zeroPages(snapshot) : undefined,
      makeSnapshot: Boolean(this.#options.onSnapshot),
      wasmModule: true, // comes in its own message when compiled, while the worker imports Pyodide
      interrupt: state.interrupt.buffer,
      channel: state.control ? { control: state.control.buffer, data: state.data } : undefined,
    }, snapshot?.buffer instanceof ArrayBuffer && typeof readSnapshot === "function" ? [snapshot.buffer] : []); // read for this boot: moved; shared: not copied
    this.#wasmModule.then((module) => toWorker(state, { kind: "wasm", module }));
  }
}

/**
 * The memory watch of the process, every 100 ms while a sandbox in it has a memory limit. A worker's memory
 * is the figure its sandbox core writes into shared memory (web/sandbox/memory-figure.js: its JS heap,
 * ArrayBuffers and wasm memories, refreshed while its code runs); code can change its own figure only by
 * taking or freeing memory, and cannot reach another worker's. Past memoryMb + JS_HEAP_ALLOWANCE_MB, or
 * once it grew by that much while serving, its sandbox is replaced. The process's resident memory is a
 * backstop for memory no figure sees: its growth (less the other figures' growth) is charged to a sandbox only
 * when that was the one sandbox of the process that answered a run since the last look, and no worker booted
 * (that growth is the boot's). When several ran at once, each is charged with its own figure's growth alone:
 * one agent's code never costs another agent its state.
 */
function watchMemory() {
  const rss = Deno.memoryUsage().rss;
  const grown = rss - (lastRss ?? rss);
  lastRss = rss;
  const looks = [...everyone].map((workers) => workers.lookAtMemory()).filter(Boolean);
  const ran = looks.filter((look) => look.ran);
  const alone = ran.length === 1 && ![...everyone].some((workers) => workers.booting.length);
  // What the figures grew by is each one's own; the rest of the process's growth is the lone runner's.
  const figuresGrew = looks.reduce((sum, look) => sum + Math.max(0, look.ownGrowth), 0);
  for (const look of looks) {
    look.workers.charge(look, alone && look.ran ? grown - figuresGrew + Math.max(0, look.ownGrowth) : look.ownGrowth);
  }
}

// The slots of a worker's `within` buffer (web/sandbox/core.js withHardLimit).
const WITHIN_SLOTS = 3; // [its code runs within its hard limit, asked to end itself, ended itself]

/**
 * End a worker whose run has not answered, and tell `stuck` if its thread may spin on. Code within its hard
 * limit is ended there. Code that awaits a promise leaves the worker's event loop free: asked, the worker
 * ends itself from there (nothing of it runs after that), and only then is it terminated, since Deno's
 * terminate() would stop that event loop first. A worker that does not answer within SELF_END_WAIT_MS
 * spins where no limit reaches. Without a hard limit (CPython's host), every such worker is reported.
 */
function endRunning(state, end, stuck) {
  const within = state.within;
  if (!within || Atomics.load(within, 0)) {
    end();
    if (!within) stuck();
    return;
  }
  Atomics.store(within, 1, 1);
  const asked = performance.now();
  const check = () => {
    if (Atomics.load(within, 2)) return end();
    if (performance.now() - asked < SELF_END_WAIT_MS) return setTimeout(check, 20);
    end();
    stuck();
  };
  check();
}

const zeroPageMaps = new WeakMap(); // snapshot -> its zero pages, found once per process

/**
 * Which 64 KiB pages of a Pyodide memory snapshot's memory image are all zero (1 each), for a boot that
 * copies only the others (web/sandbox/core.js). The image starts where the snapshot's header says
 * (its second 32-bit word, as Pyodide writes it).
 * @param {Uint8Array} snapshot
 */
function zeroPages(snapshot) {
  let pages = zeroPageMaps.get(snapshot);
  if (pages) return pages;
  const start = snapshot.length >= 8 ? new DataView(snapshot.buffer, snapshot.byteOffset, 8).getUint32(4, true) : 0;
  const PAGE = 65536;
  // Not a snapshot Pyodide wrote (its boot will fail and say so): no page is skipped.
  const valid = start > 0 && start <= snapshot.length && start % 4 === 0 && snapshot.byteOffset % 4 === 0;
  pages = new Uint8Array(valid ? Math.ceil((snapshot.length - start) / PAGE) : 0);
  if (valid) {
    const words = new Uint32Array(snapshot.buffer, snapshot.byteOffset + start, (snapshot.length - start) >> 2);
    for (let page = 0; page < pages.length; page++) {
      const end = Math.min(words.length, (page + 1) * (PAGE / 4));
      let word = page * (PAGE / 4);
      while (word < end && words[word] === 0) word++;
      pages[page] = word === end && (page + 1) * PAGE <= snapshot.length - start ? 1 : 0;
    }
  }
  zeroPageMaps.set(snapshot, pages);
  return pages;
}

const WORKER_SCRIPT = new URL("../web/sandbox/deno-worker.js", import.meta.url).href;
const HARD_LIMIT_SCRIPT = new URL("../web/sandbox/deno-hard-limit.js", import.meta.url).href;

/**
 * The module a sandbox worker starts from: a root that imports the worker's script and hands it what it
 * should have. With Pyodide's folder: Pyodide's two modules, imported after the worker's script (which empties
 * the global scope first). Modules of a file are compiled once and kept in Deno's code cache (DENO_DIR, else
 * in memory), where Pyodide's JS as text was compiled anew by every worker (about 100 ms of CPU, a third of a
 * boot from the snapshot). With a hard limit: deno-hard-limit.js, imported first (node:vm needs `Deno` as it
 * loads), and only then, since Deno's Node layer costs a worker about 10 ms of CPU. The root is a data: URL:
 * the worker may read no file, and its imports are checked against this process's read permissions (which
 * cover them).
 */
function workerModule(pyodideURL, hardLimit) {
  if (!pyodideURL && !hardLimit) return WORKER_SCRIPT;
  const url = (name) => JSON.stringify(new URL(name, pyodideURL).href);
  const root = [
    hardLimit && `import { runWithin } from ${JSON.stringify(HARD_LIMIT_SCRIPT)};`,
    `import { useHardLimit, usePyodide } from ${JSON.stringify(WORKER_SCRIPT)};`,
    pyodideURL && `import { loadPyodide } from ${url("pyodide.mjs")};
import createPyodideModule from ${url("pyodide.asm.mjs")};
usePyodide({ loadPyodide, createPyodideModule });`,
    hardLimit && "useHardLimit(runWithin);",
  ].filter(Boolean).join("\n");
  return `data:text/javascript,${encodeURIComponent(root)}`;
}

/**
 * The sandbox behind a MessagePort, speaking the protocol as JSON text the way the browser's
 * sandbox frame does (web/sandbox/page.js): `new SandboxClient(openSandboxPort(boot, options))`.
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
