// The Deno process that CPython's DenoSandboxExecutor starts (wasm_agent/executor/sandbox.py).
//
//   deno run --no-prompt --unstable-worker-options --allow-read=<only our files> sandbox_host.js
//
// Its first line on stdin is its config; then it reads protocol messages as JSON lines, hands
// them to the permissionless sandbox workers (deno/sandbox_workers.js), and writes their
// messages to stdout as lines `<key> <JSON>`: the key is known to CPython and to this
// isolate only (not in Deno.args, which workers can read), so output the
// sandbox manages to print cannot pass for a message.
// With `makeSnapshot` it writes a Pyodide memory snapshot to stdout (raw bytes) and exits.

import { SandboxWorkers } from "./sandbox_workers.js";

/**
 * @typedef {object} Config
 * @property {string} key
 * @property {string} pyodideDir
 * @property {Record<string, string>} pythonFiles  sandbox path -> file to read
 * @property {string | null} snapshot  a snapshot file to start from
 * @property {boolean} makeSnapshot
 * @property {number | null} memoryMb  see SandboxOptions in sandbox_workers.js
 * @property {"atomics" | "jspi"} bridge
 * @property {boolean} spare  keep a second sandbox booted, so a restart is immediate
 */
const stdinLines = readLines();
/** @type {Config} */
const config = JSON.parse((await stdinLines.next()).value);

const encoder = new TextEncoder();
const pyodideFile = (name) => `${config.pyodideDir}/${name}`;

function writeAll(bytes) {
  for (let offset = 0; offset < bytes.length;) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

function emit(message) {
  writeAll(encoder.encode(`${config.key} ${JSON.stringify(message)}\n`));
}

function fail(reason) {
  console.error(`sandbox_host: ${reason}`);
  Deno.exit(1);
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

const workers = new SandboxWorkers({
  pyodideSource: Deno.readTextFileSync(pyodideFile("pyodide.mjs")),
  asmSource: Deno.readTextFileSync(pyodideFile("pyodide.asm.mjs")),
  files: Object.fromEntries(["pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
    .map((name) => [name, Deno.readFileSync(pyodideFile(name))])),
  pythonFiles: Object.fromEntries(Object.entries(config.pythonFiles)
    .map(([path, file]) => [path, file ? Deno.readTextFileSync(file) : ""])),
  snapshot: config.snapshot ? () => Deno.readFileSync(config.snapshot) : undefined,
}, {
  emit,
  onFatal: fail,
  bridge: config.bridge,
  spare: config.spare,
  memoryMb: config.memoryMb,
  onSnapshot: config.makeSnapshot ? (bytes) => {
    writeAll(bytes);
    Deno.exit(0);
  } : undefined,
});

if (!config.makeSnapshot) {
  for await (const line of stdinLines) workers.handle(line);
  Deno.exit(0); // CPython closed our stdin: it is done with us
}
