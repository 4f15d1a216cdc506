// The sandbox page's script: build_html.py inlines it, with relay.js before it, as the only script of
// sandbox.html, pinned by its sha256 in the document's CSP. The document is an
// <iframe sandbox="allow-scripts">: an opaque origin, no network (connect-src 'none'), no storage, no
// access to the parent.
//
// The parent connects once with {kind: "connect"} and a MessagePort. Over that port it sends
// {kind: "start", boot, options}, then protocol messages as JSON text, and {kind: "stop"} when it is
// done. This page keeps the boot bytes and starts the sandbox's workers (browser-worker.js, from a
// blob: URL); the relay core (relay.js) keeps one serving and passes on, as text, only what its core
// framed. The parent trusts none of it.

import { SandboxRelay, toWorker } from "./relay.js";

const SPARE_DELAY_MS = 1000;
// A fresh worker's first steps are slow (V8 compiles Pyodide's wasm functions lazily, on first call):
// every worker runs typical code once before it serves, so the host's first step does not pay that.
const WARM_UP_CODE = [
  "import json, math, re",
  "def warm(n):\n    return sum(i * i for i in range(n))",
  "try:\n    1 / 0\nexcept ZeroDivisionError as error:\n    print(repr(error), json.dumps({'a': [1, 2.5]}))",
  "print(warm(1000), math.sqrt(2), re.sub('a', 'b', 'aa'))",
  "[warm(10), {'x': 1}, 'text', None]",
].join("\n");
const WARM_UP_TOOL = { name: "warm_up", description: "d", inputs: { a: { type: "integer", description: "a" } },
  output_type: "integer" };
const WARM_UP = [
  { type: "send_tools", tools: [WARM_UP_TOOL] },
  { type: "run", code: WARM_UP_CODE },
  { type: "send_tools", tools: [] },
  { type: "reset" },
];
const atomics = self.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";
let port = null;
let relay = null;

const toHost = (text) => port.postMessage(text);

/** Start the relay for the parent's boot: Pyodide's bytes, the Python files, the workers' code. */
function start(boot, options) {
  const { "pyodide.asm.wasm": wasm, ...files } = boot.files;
  const wasmModule = WebAssembly.compile(wasm); // once, for every worker (they share its tiered-up code)
  const { workerSource, ...rest } = boot;
  relay = new SandboxRelay({
    sharedMemory: atomics,
    atomicsBridge: atomics,
    toolCallsBypass: true,
    spare: Boolean(options.spare),
    // Not at once: handing the boot bytes to a worker copies ~45 MB on this thread, which would
    // delay the first answers of the worker that has just taken over.
    spareDelayMs: SPARE_DELAY_MS,
    warmUp: WARM_UP,
    spawn() {
      const url = URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
      const worker = new Worker(url, { name: "wasm-agent-sandbox" });
      URL.revokeObjectURL(url);
      return worker;
    },
    boot(state) {
      // Tool calls skip the relay: the worker posts them on this port, which the host gets when the
      // worker starts serving it (one hop instead of two, on the path every tool call takes).
      const tools = new MessageChannel();
      state.toolPort = tools.port1;
      toWorker(state, {
        ...rest,
        kind: "boot",
        key: state.key,
        gate: state.gate?.buffer,
        files,
        wasmModule: true, // sent below, once compiled
        maxMemoryBytes: options.maxMemoryBytes ?? 0,
        interrupt: state.interrupt?.buffer,
        channel: state.control ? { control: state.control.buffer, data: state.data } : undefined,
        toolPort: tools.port2,
      }, [tools.port2]);
      wasmModule.then((module) => toWorker(state, { kind: "wasm", module }));
    },
    emit: (_message, text) => toHost(text),
    activate(state) {
      // Atomics: answers go through the relay (the worker waits on shared memory); JSPI: on the port.
      port.postMessage({ kind: "tool-port", answerHere: !atomics, key: state.key }, [state.toolPort]);
      toHost(state.readyText);
    },
    onReady(_state, serving) {
      if (!serving) toHost(JSON.stringify({ type: "log", text: "sandbox: the warm spare is ready" }));
    },
    onFatal: (reason) => toHost(JSON.stringify({ type: "crashed", reason, fatal: true })),
  });
}

function onHostMessage(data) {
  // The host's heartbeat: an answer means this document (and its process) is alive.
  if (data?.kind === "ping") return port.postMessage({ kind: "pong", n: data.n });
  if (data?.kind === "start" && !relay) return start(data.boot, data.options ?? {});
  if (data?.kind === "stop") { // the host is done: free the workers' memory now
    relay?.close();
    return;
  }
  if (typeof data !== "string" || !relay) return;
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return;
  }
  if (typeof message?.type === "string") relay.handle(message, data);
}

self.addEventListener("message", (event) => {
  if (port || event.source !== self.parent || event.data?.kind !== "connect" || !event.ports[0]) return;
  port = event.ports[0];
  port.onmessage = (portEvent) => onHostMessage(portEvent.data);
  port.postMessage({ kind: "connected", crossOriginIsolated: self.crossOriginIsolated === true, atomics });
});
