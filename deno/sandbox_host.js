// The Deno process that CPython's DenoSandboxExecutor starts (wasm_agent/executor/sandbox.py).
//
//   deno run --no-prompt --unstable-worker-options --allow-read=<only our files> sandbox_host.js
//
// Its first line on stdin is its config. Then it serves any number of sandboxes, each opened by
// CPython with an id: a SandboxClient (web/sandbox-client.js, the client the browser and the agent in
// Deno use) over its own permissionless workers (deno/sandbox_workers.js). CPython's lines are the
// host protocol (HOST_REQUESTS in web/protocol.js: open, run, send_tools, interrupt, tool_result,
// close...); the answers, tool calls and events go to stdout as lines `<key> <JSON>` (HOST_REPLIES):
// the key is known to CPython and to this isolate only (not in Deno.args, which workers could read),
// so output the sandbox manages to print cannot pass for a message. A worker ended while its code still
// ran may spin on in this process (Deno cannot end a thread busy in wasm): it is reported (`stuck`), and
// CPython ends this process once no sandbox in it is in use.
// With `makeSnapshot` it boots one worker, writes its Pyodide memory snapshot to stdout (raw bytes)
// and exits.

import { SandboxClient } from "../web/sandbox-client.js";
import { decode, HOST_REQUESTS } from "../web/protocol.js";
import { openSandboxPort, SandboxWorkers } from "./sandbox_workers.js";

/**
 * @typedef {object} Config
 * @property {string} key
 * @property {string} pyodideDir
 * @property {Record<string, string>} pythonFiles  sandbox path -> file to read
 * @property {string | null} snapshot  a snapshot file to start from
 * @property {boolean} makeSnapshot
 */

/**
 * What `open` may set for one sandbox (the rest of its client's options keep their defaults).
 * @typedef {object} SandboxOptions
 * @property {number | null} [memoryMb]  see SandboxOptions in sandbox_workers.js
 * @property {"atomics" | "jspi"} [bridge]
 * @property {boolean} [spare]  keep a second worker booted, so a restart is immediate
 * @property {number} [graceMs]  how long interrupted code may take to stop before its worker is replaced
 * @property {number} [bootTimeoutMs]
 * @property {number} [requestTimeoutMs]
 */
const stdinLines = readLines();
/** @type {Config} */
const config = JSON.parse((await stdinLines.next()).value);

const encoder = new TextEncoder();
const pyodideFile = (name) => `${config.pyodideDir}/${name}`;

function folderURL(path) {
  const url = new URL("file:///");
  url.pathname = `${path.replace(/\/$/, "")}/`; // percent-encodes what a path may hold and a URL may not
  return url.href;
}

function writeAll(bytes) {
  for (let offset = 0; offset < bytes.length;) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

function emit(message) {
  writeAll(encoder.encode(`${config.key} ${JSON.stringify(message)}\n`));
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

let snapshotBroken = !config.snapshot;
let sharedSnapshot = null;
// The snapshot's bytes, read once and shared by every worker of the process (Pyodide copies them into its
// own memory): one 30 MB copy per process, where each worker used to keep its own until its next GC (never,
// as a worker sleeps between requests), and no read of the file per reset.
function readSnapshot() {
  if (snapshotBroken) return undefined;
  if (!sharedSnapshot) {
    const bytes = Deno.readFileSync(config.snapshot);
    sharedSnapshot = new Uint8Array(new SharedArrayBuffer(bytes.length));
    sharedSnapshot.set(bytes);
  }
  return sharedSnapshot;
}
/** @type {import("./sandbox_workers.js").SandboxBoot} */
const boot = {
  pyodideURL: folderURL(config.pyodideDir),
  files: Object.fromEntries(["pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
    .map((name) => [name, Deno.readFileSync(pyodideFile(name))])),
  pythonFiles: Object.fromEntries(Object.entries(config.pythonFiles)
    .map(([path, file]) => [path, file ? Deno.readTextFileSync(file) : ""])),
  // A snapshot that failed a boot is not offered again.
  snapshot: readSnapshot,
  snapshotFailed: (reason) => {
    if (snapshotBroken) return;
    snapshotBroken = true;
    sharedSnapshot = null;
    emit({ type: "snapshot_failed", reason: String(reason).slice(0, 2000) });
  },
};

if (config.makeSnapshot) {
  new SandboxWorkers({ ...boot, snapshot: undefined }, {
    emit: () => {},
    onFatal: (reason) => {
      console.error(`sandbox_host: ${reason}`);
      Deno.exit(1);
    },
    onSnapshot: (bytes) => {
      writeAll(bytes);
      Deno.exit(0);
    },
  });
} else {
  await serve();
  Deno.exit(0); // CPython closed our stdin: it is done with us
}

async function serve() {
  /** @type {Map<number, SandboxClient>} */
  const sandboxes = new Map();
  const toolCalls = new Map(); // id -> {sandbox, resolve, reject}: tool calls CPython has not answered yet
  const restarts = new Map(); // sandbox -> workers its client replaced (a step that did not stop is one)
  let toolCallIds = 0;

  const open = (sandbox, { options, tools, variables, wheels }) => {
    const { memoryMb = null, bridge = "atomics", spare = false, ...clientOptions } = options;
    const onStuck = (reason) => emit({ type: "stuck", sandbox, reason });
    const client = new SandboxClient(openSandboxPort(boot, { memoryMb, bridge, spare, onStuck }), {
      ...clientOptions,
      wireValues: true, // Python is on both sides: floats and tuples keep their markers
      onToolCall: (name, args, kwargs) => new Promise((resolve, reject) => {
        const id = ++toolCallIds;
        toolCalls.set(id, { sandbox, resolve, reject });
        emit({ type: "tool_call", sandbox, id, name, args, kwargs });
      }),
      onEvent: (event) => {
        if (event.type === "restarted") restarts.set(sandbox, (restarts.get(sandbox) ?? 0) + 1);
        emit({ type: "event", sandbox, event });
      },
    });
    sandboxes.set(sandbox, client);
    // What the sandbox had in the process that ended, if any: the client gives it to every new worker.
    const settled = (promise) => promise.catch((error) => emit({ type: "event", sandbox,
      event: { type: "log", text: `could not restore the sandbox: ${error.message}` } }));
    if (tools.length) settled(client.sendTools(tools));
    if (Object.keys(wheels).length) settled(client.installWheels(wheels));
    if (Object.keys(variables).length) settled(client.sendVariables(variables));
  };

  /** Answer request `id` of `sandbox` with what `work` gives, or its error. */
  const answer = async (sandbox, id, work) => {
    try {
      const value = await work();
      emit({ type: "answer", sandbox, id, ok: true, value: value ?? null });
    } catch (error) {
      emit({ type: "answer", sandbox, id, ok: false,
        error: { type: error?.constructor?.name ?? "Error", message: String(error?.message ?? error) } });
    }
  };

  /** Tool calls of a step that is over get no answer from CPython any more: fail them here. */
  const dropToolCalls = (sandbox, reason) => {
    for (const [id, call] of toolCalls) {
      if (call.sandbox !== sandbox) continue;
      toolCalls.delete(id);
      call.reject(Object.assign(new Error(reason), { name: "AgentToolCallError" }));
    }
  };

  for await (const line of stdinLines) {
    let message;
    try {
      message = decode(line, Object.keys(HOST_REQUESTS), HOST_REQUESTS);
    } catch (error) {
      console.error(`sandbox_host: ignored a line: ${error.message}`);
      continue;
    }
    const { sandbox, id } = message;
    if (message.type === "open") {
      sandboxes.get(sandbox)?.close();
      open(sandbox, message);
      continue;
    }
    const client = sandboxes.get(sandbox);
    if (message.type === "tool_result") {
      const call = toolCalls.get(id);
      if (call?.sandbox !== sandbox) continue;
      toolCalls.delete(id);
      if (message.ok) call.resolve(message.value);
      else call.reject(Object.assign(new Error(String(message.error?.message)), { name: String(message.error?.type) }));
      continue;
    }
    if (!client) {
      if (id !== undefined) answer(sandbox, id, () => { throw new Error(`no sandbox ${sandbox} is open`); });
      continue;
    }
    switch (message.type) {
      case "close":
        dropToolCalls(sandbox, "the sandbox was closed");
        client.close();
        sandboxes.delete(sandbox);
        restarts.delete(sandbox);
        break;
      case "interrupt":
        client.interrupt();
        break;
      case "run":
        answer(sandbox, id, async () => {
          const restartsBefore = restarts.get(sandbox);
          try {
            const output = await client.run(message.code, {
              timeoutMs: message.timeout_ms ?? null,
              ...(message.max_output_chars ? { maxOutputChars: message.max_output_chars } : {}),
            });
            // The worker was replaced during the step: once the relay has handled that (a ping's round trip
            // on the same port), a worker that did not stop has been reported (`stuck`), before this answer.
            if (restarts.get(sandbox) !== restartsBefore) await client.ping({ timeoutMs: 1000 });
            return output;
          } finally {
            dropToolCalls(sandbox, "tools can be called only while a step's code runs");
          }
        });
        break;
      case "send_tools":
        answer(sandbox, id, () => client.sendTools(message.tools));
        break;
      case "send_variables":
        answer(sandbox, id, () => client.sendVariables(message.variables));
        break;
      case "reset":
        answer(sandbox, id, () => client.reset());
        break;
      case "install":
        answer(sandbox, id, () => client.installWheels(message.wheels));
        break;
    }
  }
  for (const client of sandboxes.values()) client.close();
}
