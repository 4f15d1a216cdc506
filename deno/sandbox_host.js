// The Deno process that CPython's DenoSandboxExecutor starts (wasm_agent/executor/sandbox.py).
//
//   deno run --no-prompt --unstable-worker-options --allow-read=<only our files> sandbox_host.js
//
// Its first line on stdin is its config; then it reads protocol messages as JSON lines, owns one permissionless
// sandbox worker (deno/sandbox_worker.js), and writes the worker's messages to
// stdout as lines `<key> <JSON>`: the key is known to CPython and to this
// isolate only (not in Deno.args, which workers can read), so output the
// sandbox manages to print cannot pass for a message.
// It restarts the worker when it crashes, when asked to (`restart`), or when the
// process grows past the memory limit. With `makeSnapshot` it writes a Pyodide
// memory snapshot to stdout (raw bytes) and exits.

import { decode, SANDBOX_MESSAGE_TYPES } from "../web/protocol.js";

/**
 * @typedef {object} Config
 * @property {string} key
 * @property {string} pyodideDir
 * @property {Record<string, string>} pythonFiles  sandbox path -> file to read
 * @property {string | null} snapshot  a snapshot file to start from
 * @property {boolean} makeSnapshot
 * @property {number | null} memoryMb  restart the sandbox when the process grows by more than this
 *   since the sandbox became ready (a worker's memory is not measurable alone, and a replaced
 *   worker's memory may be returned to the system late, so growth is what is watched)
 * @property {"atomics" | "jspi"} bridge
 * @property {boolean} spare  keep a second sandbox booted, so a restart is immediate
 */
const stdinLines = readLines();
/** @type {Config} */
const config = JSON.parse((await stdinLines.next()).value);
const MAX_TOOL_ANSWER_BYTES = 64 << 20;
const MAX_LOGS_PER_RUN = 50;

const encoder = new TextEncoder();
const pyodideFile = (name) => `${config.pyodideDir}/${name}`;
const boot = {
  kind: "boot",
  pyodideSource: Deno.readTextFileSync(pyodideFile("pyodide.mjs")),
  asmSource: Deno.readTextFileSync(pyodideFile("pyodide.asm.mjs")),
  files: Object.fromEntries(["pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
    .map((name) => [name, Deno.readFileSync(pyodideFile(name))])),
  pythonFiles: Object.fromEntries(Object.entries(config.pythonFiles)
    .map(([path, file]) => [path, file ? Deno.readTextFileSync(file) : ""])),
  makeSnapshot: config.makeSnapshot,
};

function writeAll(bytes) {
  for (let offset = 0; offset < bytes.length;) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

function emit(message) {
  writeAll(encoder.encode(`${config.key} ${JSON.stringify(message)}\n`));
}

// Compiled once, shared by every worker of this process (a restart skips the compile).
const wasmModule = WebAssembly.compile(boot.files["pyodide.asm.wasm"]);
delete boot.files["pyodide.asm.wasm"];  // the module is what workers get

/** The worker that serves requests, and a booted spare that replaces it at once when it dies. */
let sandbox = null;
let spare = null;
let crashesInARow = 0;

function startWorker() {
  const worker = new Worker(new URL("./sandbox_worker.js", import.meta.url), {
    type: "module",
    deno: { permissions: "none" },
  });
  const atomics = config.bridge === "atomics";
  const state = {
    worker,
    interrupt: new Int32Array(new SharedArrayBuffer(4)),
    control: atomics ? new Int32Array(new SharedArrayBuffer(8)) : null,
    data: atomics ? new SharedArrayBuffer(1 << 20, { maxByteLength: MAX_TOOL_ANSWER_BYTES }) : null,
    runs: new Set(),
    logs: 0,
    ready: null,  // the `ready` message, once booted
    baseline: 0,
  };
  worker.onmessage = (event) => onSandboxMessage(state, event.data);
  worker.onerror = (event) => {
    event.preventDefault();
    replaceSandbox(state, `the sandbox worker failed: ${event.message}`);
  };
  worker.onmessageerror = () => emit({ type: "log", text: "a message from the sandbox could not be read" });
  worker.postMessage({
    ...boot,
    // Read for each boot rather than kept: 30 MB that a restart needs rarely.
    snapshot: config.snapshot ? Deno.readFileSync(config.snapshot) : undefined,
    wasmModule: true,  // comes in its own message when compiled, while the worker imports Pyodide
    interrupt: state.interrupt.buffer,
    channel: atomics ? { control: state.control.buffer, data: state.data } : undefined,
  });
  wasmModule.then((module) => worker.postMessage({ kind: "wasm", module }));
  return state;
}

/** Terminate a worker; the spare (or a new worker) takes over. Tell CPython unless it asked. */
function replaceSandbox(state, reason, requested = false) {
  state.worker.terminate();
  if (state === spare) {
    spare = null;
    return;
  }
  if (sandbox !== state) return;
  if (config.makeSnapshot) fail(reason);
  crashesInARow += state.ready ? 0 : 1;
  if (crashesInARow >= 3) fail(`the sandbox failed to start 3 times; last: ${reason}`);
  if (!requested) emit({ type: "crashed", reason });
  sandbox = spare ?? startWorker();
  spare = null;
  if (sandbox.ready) activate(sandbox);
}

/** The serving worker is ready: tell CPython, then boot a spare behind it. */
function activate(state) {
  state.baseline = Deno.memoryUsage().rss;
  emit({ ...state.ready, host_ms: Math.round(performance.now()) });  // since this process started
  if (config.spare && !spare) {
    spare = startWorker();
    spare.rssBefore = Deno.memoryUsage().rss;
  }
}

function fail(reason) {
  console.error(`sandbox_host: ${reason}`);
  Deno.exit(1);
}

function onSandboxMessage(state, data) {
  if (sandbox !== state && spare !== state) return;  // from a worker that was replaced
  if (config.makeSnapshot && data?.snapshot instanceof Uint8Array) {
    writeAll(data.snapshot);
    Deno.exit(0);
  }
  let message;
  try {
    message = decode(data, SANDBOX_MESSAGE_TYPES);
  } catch (error) {
    return emit({ type: "log", text: `dropped a message from the sandbox: ${error.message}` });
  }
  if (message.type === "crashed") {
    return replaceSandbox(state, String(message.reason ?? "the sandbox crashed").slice(0, 2000));
  }
  if (message.type === "ready" && !state.ready) {
    state.ready = { ...message, spare: state !== sandbox || undefined };
    crashesInARow = 0;
    if (state === sandbox) return activate(state);
    // The spare's memory is not growth of the serving sandbox.
    if (sandbox) sandbox.baseline += Deno.memoryUsage().rss - state.rssBefore;
    return;
  }
  if (state !== sandbox) return;  // a spare says nothing else until it serves
  if (message.type === "result") {
    state.runs.delete(message.id);
    state.logs = 0;
  } else if (message.type === "log" && ++state.logs > MAX_LOGS_PER_RUN) {
    return;
  }
  emit(message);  // re-encoded: one line, whatever the sandbox sent
}

function onHostMessage(text) {
  let message;
  try {
    message = decode(text);
  } catch (error) {
    return emit({ type: "log", text: `sandbox_host: ignored a line: ${error.message}` });
  }
  const state = sandbox;
  if (!state) return;
  switch (message.type) {
    case "interrupt":
      if (state.runs.size) {
        Atomics.store(state.interrupt, 0, 2);
        Atomics.notify(state.interrupt, 0);  // wakes a sleeping time.sleep
      }
      if (!state.control) state.worker.postMessage(text);
      return;
    case "restart":
      return replaceSandbox(state, "restart requested", true);
    case "tool_result":
      return state.control ? answerTool(state, text) : state.worker.postMessage(text);
    case "run":
      Atomics.store(state.interrupt, 0, 0);
      state.runs.add(message.id);
      return state.worker.postMessage(text);
    default:
      return state.worker.postMessage(text);
  }
}

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

async function* readLines() {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) yield line;
    }
  }
}

if (config.memoryMb) {
  setInterval(() => {
    const rss = Deno.memoryUsage().rss;
    // Only during a run: right after a restart the old worker's memory may not be returned yet.
    if (sandbox?.runs.size && (!spare || spare.ready) && rss - sandbox.baseline > config.memoryMb * 1024 * 1024) {
      replaceSandbox(sandbox, `the sandbox used more than ${config.memoryMb} MB of memory`);
    }
  }, 100);
}

sandbox = startWorker();
if (!config.makeSnapshot) {
  for await (const line of stdinLines) onHostMessage(line);
  Deno.exit(0);  // CPython closed our stdin: it is done with us
}
