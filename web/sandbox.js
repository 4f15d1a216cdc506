// The sandbox relay: the only script of sandbox.html (inlined there, pinned by
// its sha256 in the document's CSP; `python web/build_sandbox_html.py` rebuilds
// it). The document is an <iframe sandbox="allow-scripts">: an opaque origin,
// no network (connect-src 'none'), no storage, no access to the parent.
//
// The parent connects once with {kind: "connect"} and a MessagePort. Over that
// port it sends {kind: "start", boot, options}, then protocol messages as JSON
// text, and {kind: "stop"} when it is done. The relay keeps the boot bytes, runs the sandbox worker (and a warm
// spare), answers tool calls through shared memory when this document is
// cross-origin isolated, and turns `interrupt` and `restart` into the
// interrupt buffer or a fresh worker. Each worker gets a random key with its
// boot: only messages framed with it (by web/sandbox_core.js, which Python
// cannot reach) are passed on, as text; the parent trusts none of them.
"use strict";

(() => {
  const MAX_MESSAGE_CHARS = 16 * 1024 * 1024;
  const MAX_TOOL_ANSWER_BYTES = 64 << 20;
  const MAX_LOGS_PER_RUN = 50; // a flood of `log` messages stops here, not in the host
  const SPARE_DELAY_MS = 1000;
  const WARM_UP_ID = -1; // ids of the relay's own requests are negative; their answers stay here
  const WARM_UP_CODE = [
    "import json, math, re",
    "def warm(n):\n    return sum(i * i for i in range(n))",
    "try:\n    1 / 0\nexcept ZeroDivisionError as error:\n    print(repr(error), json.dumps({'a': [1, 2.5]}))",
    "print(warm(1000), math.sqrt(2), re.sub('a', 'b', 'aa'))",
    "[warm(10), {'x': 1}, 'text', None]",
  ].join("\n");
  const encoder = new TextEncoder();
  let port = null;
  let boot = null; // what every worker starts from (Pyodide bytes, Python files, code)
  let options = {}; // {spare: boolean, maxMemoryBytes}
  let wasmModule = null; // Promise<WebAssembly.Module>: Pyodide's wasm, compiled once for every worker
  let filesWithoutWasm = null;
  let active = null; // the worker that serves the host
  let spare = null; // a worker booting or booted, waiting to replace `active`
  let spareTimer;
  let failedBoots = 0; // in a row: past 3, stop trying (the bytes or the browser are the problem)
  const atomics = self.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";

  const toHost = (text) => port.postMessage(text);
  const hostMessage = (message) => toHost(JSON.stringify(message));

  /** Start a worker; it answers `ready` (or `crashed`) when Pyodide is loaded. */
  function startWorker() {
    const source = new Blob([boot.workerSource], { type: "text/javascript" });
    const url = URL.createObjectURL(source);
    const worker = new Worker(url, { name: "wasm-agent-sandbox" });
    URL.revokeObjectURL(url);
    const state = {
      worker,
      booted: null, // its `ready` text, once Pyodide is loaded
      ready: null, // the same, once warmed up: from then on it may serve the host
      busy: false, // a `run` is under way
      logs: 0, // `log` messages forwarded since the last run started
      key: randomKey(),
      gate: atomics ? new Int32Array(new SharedArrayBuffer(4)) : null, // messages posted to it (sandbox_core.js idle)
      interrupt: atomics ? new Int32Array(new SharedArrayBuffer(4)) : null,
      control: atomics ? new Int32Array(new SharedArrayBuffer(8)) : null,
      data: atomics ? new SharedArrayBuffer(1 << 20, { maxByteLength: MAX_TOOL_ANSWER_BYTES }) : null,
    };
    worker.onmessage = (event) => onWorkerMessage(state, event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      onWorkerDied(state, `the sandbox worker failed: ${event.message ?? "unknown error"}`);
    };
    worker.onmessageerror = () => onWorkerDied(state, "the sandbox worker sent a message that could not be read");
    // Tool calls skip the relay: the worker posts them on this port, which the host gets when the
    // worker starts serving it (one hop instead of two, on the path every tool call takes).
    const tools = new MessageChannel();
    state.toolPort = tools.port1;
    const { workerSource, ...rest } = boot;
    toWorker(state, {
      ...rest,
      kind: "boot",
      key: state.key,
      gate: state.gate?.buffer,
      files: filesWithoutWasm,
      wasmModule: true, // compiled once, here; sent below (workers then share its tiered-up code)
      maxMemoryBytes: options.maxMemoryBytes ?? 0,
      interrupt: state.interrupt?.buffer,
      channel: atomics ? { control: state.control.buffer, data: state.data } : undefined,
      toolPort: tools.port2,
    }, [tools.port2]);
    wasmModule.then((module) => toWorker(state, { kind: "wasm", module }));
    return state;
  }

  /** Every message to a worker goes this way: it wakes the worker if it sleeps between requests. */
  function toWorker(state, message, transfer) {
    state.worker.postMessage(message, transfer);
    if (state.gate) {
      Atomics.add(state.gate, 0, 1);
      Atomics.notify(state.gate, 0);
    }
  }

  function randomKey() {
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function onWorkerMessage(state, frame) {
    if (frame?.k !== state.key) return; // not framed by the sandbox core: posted by the code itself
    const data = frame.m;
    if (typeof data !== "string") return; // the protocol is text; anything else is dropped
    if (data.length > MAX_MESSAGE_CHARS) {
      if (state === active) hostMessage({ type: "log", text: `dropped a ${data.length}-character message from the sandbox` });
      return;
    }
    let type, id;
    try {
      ({ type, id } = JSON.parse(data) ?? {});
    } catch {
      return; // not JSON: not the protocol
    }
    if (type === "ready") {
      if (state.ready !== null || state.booted) return; // only the boot says it
      state.booted = data;
      return warmUp(state);
    }
    if (type === "result" && id === WARM_UP_ID) {
      if (state.ready !== null || !state.booted) return;
      state.ready = state.booted;
      failedBoots = 0;
      if (state === active) announce(state);
      else if (state === spare) hostMessage({ type: "log", text: "sandbox: the warm spare is ready" });
      maybeStartSpare();
      return;
    }
    if (type === "crashed") return onWorkerDied(state, crashReason(data));
    if (state !== active || (typeof id === "number" && id < 0)) return;
    if (type === "result") {
      state.busy = false;
      if (state.interrupt) Atomics.store(state.interrupt, 0, 0); // too late for that run: not for the next request
    }
    else if (type === "log" && ++state.logs > MAX_LOGS_PER_RUN) return;
    toHost(data);
  }

  /** The worker serves the host from now on: its tool port, then its `ready`. */
  function announce(state) {
    // Atomics: answers go through the relay (the worker waits on shared memory); JSPI: on the port.
    port.postMessage({ kind: "tool-port", answerHere: !atomics, key: state.key }, [state.toolPort]);
    toHost(state.ready);
  }

  // A fresh worker's first steps are slow (V8 compiles Pyodide's wasm functions lazily, on first
  // call): run typical code once before it is announced, so the host's first step does not pay that.
  function warmUp(state) {
    const tool = { name: "warm_up", description: "d", inputs: { a: { type: "integer", description: "a" } }, output_type: "integer" };
    for (const [index, message] of [
      { type: "send_tools", tools: [tool] },
      { type: "run", code: WARM_UP_CODE },
      { type: "send_tools", tools: [] },
      { type: "reset" },
    ].entries()) {
      toWorker(state, JSON.stringify({ ...message, id: WARM_UP_ID - 3 + index }));
    }
  }

  function crashReason(text) {
    try {
      return String(JSON.parse(text).reason).slice(0, 4000);
    } catch {
      return "the sandbox crashed";
    }
  }

  function onWorkerDied(state, reason) {
    state.worker.terminate();
    if (state === spare) {
      spare = null;
      return;
    }
    if (state !== active) return;
    failedBoots = state.ready === null ? failedBoots + 1 : 0;
    const fatal = failedBoots >= 3;
    hostMessage({ type: "crashed", reason, fatal });
    active = null;
    if (!fatal) replaceActive();
  }

  /** Promote the spare (booted or booting) or start a new worker; then prepare the next spare. */
  function replaceActive() {
    if (active) active.worker.terminate();
    active = spare ?? startWorker();
    spare = null;
    if (active.ready) announce(active);
    maybeStartSpare();
  }

  function maybeStartSpare() {
    // One boot at a time: on two cores, a second boot would slow the one the host waits for. And
    // not at once: handing the boot bytes to a worker copies ~45 MB on this thread, which would
    // delay the first answers of the worker that has just taken over.
    clearTimeout(spareTimer);
    spareTimer = setTimeout(() => {
      if (options.spare && !spare && active?.ready) spare = startWorker();
    }, SPARE_DELAY_MS);
  }

  // Written into shared memory for the worker blocked in Atomics.wait. deno/sandbox_workers.js has the
  // same function: this inline script, pinned by its hash, can import nothing.
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

  function onHostMessage(data) {
    // The host's heartbeat: an answer means this document (and its process) is alive.
    if (data?.kind === "ping") return port.postMessage({ kind: "pong", n: data.n });
    if (data?.kind === "start") {
      boot = data.boot;
      options = data.options ?? {};
      const { "pyodide.asm.wasm": wasm, ...others } = boot.files;
      wasmModule = WebAssembly.compile(wasm);
      filesWithoutWasm = others;
      active = startWorker();
      return;
    }
    if (data?.kind === "stop") { // the host is done: free the workers' memory now
      clearTimeout(spareTimer);
      options.spare = false;
      for (const state of [active, spare]) state?.worker.terminate();
      active = spare = null;
      return;
    }
    if (typeof data !== "string" || !active) return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    const state = active;
    switch (message.type) {
      case "interrupt":
        // Once per run: a second interrupt would land in code that the first has already stopped.
        if (state.interrupt && state.busy && !state.interrupted) {
          state.interrupted = true;
          Atomics.store(state.interrupt, 0, 2);
        }
        if (!atomics) toWorker(state, data); // JSPI: fails a pending tool call
        return;
      case "restart":
        return replaceActive();
      case "tool_result":
        return atomics ? answerTool(state, data) : toWorker(state, data);
      case "run":
        if (state.interrupt) Atomics.store(state.interrupt, 0, 0);
        state.interrupted = false;
        state.busy = true;
        state.logs = 0;
        return toWorker(state, data);
      default:
        return toWorker(state, data);
    }
  }

  self.addEventListener("message", (event) => {
    if (port || event.source !== self.parent || event.data?.kind !== "connect" || !event.ports[0]) return;
    port = event.ports[0];
    port.onmessage = (portEvent) => onHostMessage(portEvent.data);
    port.postMessage({ kind: "connected", crossOriginIsolated: self.crossOriginIsolated === true, atomics });
  });
})();
