// Drives a sandbox over its MessagePort: the executor contract of DESIGN §4 in JavaScript, and the
// one home of its rules (wait for `ready`; give a new worker the tools, packages and variables again;
// interrupt, then restart past a grace; a fresh worker for a new run). Every sandbox has this client:
// the browser's (a port from openSandboxFrame in web/sandbox-frame.js, in the page or the agent
// worker), the agent in Deno's and CPython's (a port from openSandboxPort in deno/sandbox_workers.js;
// for CPython inside deno/sandbox_host.js, which relays its calls as lines). Everything from the
// sandbox is untrusted: messages are checked with web/protocol.js, and only `tool_call`s lead to
// anything, which generated code may do anyway.
//
//   const frame = await openSandboxFrame({ assets: await loadSandboxAssets({ wheel }) });
//   const sandbox = new SandboxClient(frame.port, { onToolCall: (name, args, kwargs) => … });
//   await sandbox.sendTools([{ name: "add", description: "…", inputs: {…}, output_type: "integer" }]);
//   const { output, logs, is_final_answer, error } = await sandbox.run("x = add(1, 2)\nx");

import { PendingRequests, SANDBOX_MESSAGE_TYPES, SandboxDiedError, decode, encode, plainValue } from "./protocol.js";
import { fetchWheel, isPurePythonWheel, isPyodideWheel } from "./sandbox-wheel.js";

const INTERRUPTED = "KeyboardInterrupt";
const GONE = "The sandbox stopped answering (its process ended, most likely out of memory) and was replaced. ";
const LOST = "The sandbox was restarted, so all variables were lost (imports and functions of earlier steps "
  + "too); define them again before use.";

/**
 * @typedef {object} CodeOutput
 * @property {unknown} output  JSON values, non-JSON ones as {"$repr", "$type"}; with `wireValues`, Python's
 *   other types as their markers ({"$float"}, {"$set"}…), else as JS values (protocol.js `plainValue`)
 * @property {string} logs
 * @property {boolean} is_final_answer
 * @property {string | null} error
 */

export class SandboxClient {
  #port;
  #pending = new PendingRequests();
  #tools = [];
  #ready;
  #markReady = null; // set while a `ready` is awaited
  #failReady = null;
  #running = null; // {id, settle, stopping}
  #starting = null; // {interrupted}: a run that waits for the sandbox to be ready
  #toolCallsInFlight = 0;
  #wheels = {}; // installed packages: file name -> base64, installed again into every new worker
  #variables = {}; // sent since the last reset: sent again to every new worker
  #lostNote = null; // the sandbox died between runs after code ran: the next run's logs say so
  #toolPort = null; // the current worker's tool calls come here
  #toolPortKey = ""; // ...framed with this key by the worker's core
  #answerOnToolPort = false;
  #used = false; // code ran in the current worker: a reset needs a fresh one
  #workers = 0; // how many workers have served: a tool call belongs to the one that served when it came
  #closed = false;
  #heartbeat = null; // interval timer
  #pingSentAt = null; // a ping awaiting its pong (performance.now())
  #lastTick = 0;
  #pongWaiters = new Map(); // ping() number -> resolve
  #pings = 0;
  #answersPings = false; // the relay on this port has answered a ping: its silence then means it is gone

  /**
   * @param {MessagePort} port
   * @param {object} [options]
   * @param {(name: string, args: unknown[], kwargs: object) => unknown} [options.onToolCall] runs a tool
   * @param {boolean} [options.wireValues]  give tool arguments and run outputs as wire data, with the markers
   *   that keep Python's types (for Python on this side too); else as plain JS values (Set, Date, Uint8Array…)
   * @param {number | null} [options.timeoutMs]  wall time of one run (null: none)
   * @param {number} [options.maxOutputChars]
   * @param {number} [options.graceMs]    how long an interrupted run may take to stop before a restart
   * @param {number} [options.requestTimeoutMs]  for every request but `run`
   * @param {number} [options.bootTimeoutMs]
   * @param {number} [options.heartbeatMs]  how often the relay behind the port is asked whether it is alive
   * @param {number} [options.lostAfterMs]   an unanswered ping this old means the sandbox's process is gone
   * @param {(event: object) => void} [options.onEvent]  ready / crashed / restarted / lost / log, for UIs and
   *   tests. `lost`: the sandbox's document stopped answering (e.g. its process ran out of memory); whoever
   *   owns the frame opens a new one and hands its port to `attach`. Until then requests wait for `ready`.
   */
  constructor(port, options = {}) {
    this.options = { timeoutMs: 30_000, maxOutputChars: 20_000, graceMs: 1500, requestTimeoutMs: 10_000,
      bootTimeoutMs: 60_000, heartbeatMs: 1000, lostAfterMs: 5000, onToolCall: null, wireValues: false,
      onEvent: () => {}, ...options };
    this.info = null; // the last `ready` message: startup_ms, snapshot, bridge, interrupts
    this.#expectReady();
    this.#connect(port);
  }

  /**
   * Drive a new sandbox frame (after `lost`): the tools and installed packages are sent to it when it
   * is ready; variables of earlier steps are gone.
   * @param {MessagePort} port
   */
  attach(port) {
    if (this.#closed) throw new SandboxDiedError("the sandbox was closed");
    this.#disconnect();
    this.#connect(port);
  }

  /**
   * Resolves with the `ready` message once the sandbox can take requests; with `timeoutMs`, rejects
   * (SandboxDiedError) if that takes longer.
   * @param {{timeoutMs?: number}} [options]
   */
  ready({ timeoutMs } = {}) {
    return timeoutMs === undefined ? this.#ready : this.#whenReady(timeoutMs);
  }

  /** @param {{name: string, description: string, inputs: object, output_type: string}[]} tools */
  async sendTools(tools) {
    this.#tools = tools.map(({ name, description, inputs, output_type }) => ({ name, description, inputs, output_type }));
    await this.#request("send_tools", { tools: this.#tools });
  }

  /**
   * Variables for the code (a run's inputs): kept until `reset`, and given to every new worker.
   * @param {Record<string, unknown>} variables JSON-compatible values
   */
  async sendVariables(variables) {
    Object.assign(this.#variables, variables);
    await this.#request("send_variables", { variables });
  }

  /**
   * Forget the variables and imports of earlier runs: a fresh worker (the warm spare when there is one)
   * once code has run in this one, since that code may have changed anything in its interpreter.
   * Tools come along; installed packages too, unless `packages` is false (for a next user who may not
   * be authorized to import them: then the fresh worker has none).
   * @param {{packages?: boolean}} [options]
   */
  async reset({ packages = true } = {}) {
    this.#variables = {};
    const dropPackages = !packages && Object.keys(this.#wheels).length > 0;
    if (dropPackages) this.#wheels = {};
    if (!this.#used && !dropPackages) return void await this.#request("reset", {});
    this.#renew();
    this.options.onEvent({ type: "reset" });
    await this.#whenReady();
  }

  /**
   * Install wheels (pure-Python, or Pyodide's WebAssembly builds) into the sandbox, in the order given,
   * from URLs the host can fetch (the site's wheel folder, a package distribution: the sandbox itself
   * fetches nothing); a wheel with a `sha256` must match it; with a `cacheName` it is kept in that
   * Cache Storage cache. A wheel installed before is skipped; they stay installed across restarts.
   * @param {{url: string, sha256?: string, cacheName?: string}[]} wheels
   */
  async install(wheels) {
    const fetched = {};
    for (const { url, sha256, cacheName } of wheels) {
      const name = new URL(url, globalThis.location?.href).pathname.split("/").pop();
      if (!isPurePythonWheel(name) && !isPyodideWheel(name)) {
        throw new Error(`${name}: only pure-Python wheels (py3-none-any) and Pyodide's builds can be installed`);
      }
      if (name in this.#wheels || name in fetched) continue;
      fetched[name] = toBase64(new Uint8Array(await fetchWheel(url, sha256, { cacheName })));
    }
    await this.installWheels(fetched);
  }

  /**
   * Install wheels given as data (file name -> base64), in that order; like `install`, they stay
   * installed across restarts. For hosts that read the wheels themselves (CPython).
   * @param {Record<string, string>} wheels
   */
  async installWheels(wheels) {
    const missing = Object.fromEntries(Object.entries(wheels).filter(([name]) => !(name in this.#wheels)));
    if (this.#markReady) { // no worker is ready: the next one gets them before it takes any request
      Object.assign(this.#wheels, missing);
      return void await this.#whenReady();
    }
    await this.#installInto(missing);
    Object.assign(this.#wheels, missing);
  }

  async #installInto(wheels) {
    for (const [name, data] of Object.entries(wheels)) { // one message each: a message has a size limit
      const answer = await this.#pending.open((id) => this.#send({ type: "install", id, wheels: { [name]: data } }),
        this.options.requestTimeoutMs);
      if (!answer.ok) {
        throw new Error(`installing ${name} in the sandbox failed: ${answer.error?.type}: ${answer.error?.message}`);
      }
    }
  }

  /**
   * Run code; resolves with its CodeOutput, never rejects because of the code.
   * @param {string} code
   * @param {{timeoutMs?: number | null, maxOutputChars?: number}} [limits]  timeoutMs null or Infinity: no
   *   time limit (undefined: the default)
   * @returns {Promise<CodeOutput>}
   */
  async run(code, { timeoutMs = this.options.timeoutMs, maxOutputChars = this.options.maxOutputChars } = {}) {
    const starting = { interrupted: false };
    this.#starting = starting;
    try {
      await this.#whenReady();
    } finally {
      if (this.#starting === starting) this.#starting = null;
    }
    if (starting.interrupted) { // interrupt() came while the sandbox got ready: the code never starts
      return failed("Execution stopped: the run was interrupted before its code started. "
        + "Variables defined before that are kept.");
    }
    if (this.#running) throw new Error("the sandbox is already running code; await the previous run");
    return new Promise((resolve) => {
      const run = { id: 0, stopping: null, settle: null, finished: null };
      const timer = timeoutMs == null || !Number.isFinite(timeoutMs) ? undefined
        : setTimeout(() => this.#stop(`the code ran longer than the ${timeoutMs / 1000} s time limit`), timeoutMs);
      let markFinished;
      run.finished = new Promise((done) => { markFinished = done; });
      const note = this.#lostNote;
      this.#lostNote = null;
      run.settle = (output) => {
        clearTimeout(timer);
        if (this.#running === run) this.#running = null;
        if (note) output.logs = output.logs ? `[${note}]\n${output.logs}` : `[${note}]`;
        resolve(output);
        markFinished();
      };
      this.#running = run;
      this.#used = true;
      this.#pending.open((id) => {
        run.id = id;
        this.#send({ type: "run", id, code, max_output_chars: maxOutputChars });
      }, null).then(
        (message) => run.settle(this.#codeOutput(message, run)),
        (error) => run.settle(failed(error instanceof SandboxDiedError ? error.message : `the sandbox failed: ${error.message}`)),
      );
    });
  }

  /**
   * One message round trip to the sandbox's relay and back, in milliseconds: the floor under every
   * tool call (which crosses the same boundary), for diagnostics and benchmarks. Null when no answer
   * came within `timeoutMs` or the port was given up meanwhile.
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<number | null>}
   */
  async ping({ timeoutMs = 5000 } = {}) {
    const n = ++this.#pings;
    let timer;
    const pong = new Promise((resolve) => {
      this.#pongWaiters.set(n, resolve);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const started = performance.now();
    this.#port.postMessage({ kind: "ping", n });
    const answered = await pong;
    clearTimeout(timer);
    this.#pongWaiters.delete(n);
    return answered ? performance.now() - started : null;
  }

  /**
   * Stop the running code, if any: KeyboardInterrupt (state kept) or, failing that, a restart. A run
   * still waiting for the sandbox to be ready ends before its code starts.
   */
  async interrupt() {
    if (this.#running) await this.#stop("the run was interrupted");
    else if (this.#starting) this.#starting.interrupted = true;
  }

  /** A fresh sandbox (the warm spare when there is one); tools are sent again, variables are lost. */
  async restart() {
    this.#died(LOST, { restart: true });
    await this.#whenReady();
  }

  /** End the sandbox's workers (the iframe itself belongs to whoever opened it). */
  close() {
    if (this.#closed) return;
    this.#port.postMessage({ kind: "stop" });
    this.#closed = true;
    this.#pending.rejectAll(new SandboxDiedError("the sandbox was closed"));
    this.#disconnect();
  }

  // -- internals ------------------------------------------------------------------
  #connect(port) {
    this.#port = port;
    this.#answersPings = false;
    this.#pingSentAt = null;
    port.onmessage = (event) => {
      const kind = event.data?.kind;
      if (kind === "pong") {
        this.#answersPings = true;
        this.#pingSentAt = null;
        this.#pongWaiters.get(event.data.n)?.(true);
      } else if (kind === "tool-port") {
        this.#useToolPort(event);
      } else {
        this.#receive(event.data);
      }
    };
    this.#lastTick = performance.now();
    this.#heartbeat = setInterval(() => this.#checkAlive(), this.options.heartbeatMs);
  }

  #disconnect() {
    clearInterval(this.#heartbeat);
    this.#port.onmessage = null;
    this.#port.close();
    this.#closeToolPort();
    for (const resolve of this.#pongWaiters.values()) resolve(false); // ping() answers null: no round trip
    this.#pongWaiters.clear();
  }

  /**
   * A crashed document does not close its ports: only its silence tells. Silence counts only while
   * this timer ticks on time: after a late tick (a throttled or frozen tab) the ping is sent again.
   */
  #checkAlive() {
    const now = performance.now();
    const late = now - this.#lastTick > 3 * this.options.heartbeatMs;
    this.#lastTick = now;
    // Nor while a tool call is under way: a tool of the page may hold the thread the frame shares
    // (a dialog, say). Silence counts from when the last one ended.
    if (this.#pingSentAt === null || late || this.#toolCallsInFlight > 0) {
      this.#pingSentAt = now;
      this.#port.postMessage({ kind: "ping" });
    } else if (this.#answersPings && now - this.#pingSentAt > this.options.lostAfterMs) {
      this.#lost();
    }
  }

  #lost() {
    this.#disconnect(); // whatever the old frame still says (if it was only slow) is not heard
    const reason = GONE + LOST;
    const wasRunning = Boolean(this.#running);
    this.#running?.settle(failed(reason));
    this.#died(reason, { restart: false, wasRunning });
    this.options.onEvent({ type: "lost", reason });
  }

  async #stop(reason) {
    const run = this.#running;
    if (!run || run.stopping) return;
    run.stopping = reason;
    this.#send({ type: "interrupt" });
    // Isolated: the interrupt buffer raises KeyboardInterrupt within milliseconds. Otherwise only a
    // run waiting on a tool can stop this way (the pending call fails, which on a busy machine can
    // take a while to travel): past the grace, or at once when no tool call is under way, the worker
    // is replaced.
    const buffer = this.info?.interrupts === true; // Deno's workers have it with either bridge
    const graceMs = buffer || this.#toolCallsInFlight > 0 ? this.options.graceMs : 0;
    let timer;
    await Promise.race([run.finished, new Promise((resolve) => { timer = setTimeout(resolve, graceMs); })]);
    clearTimeout(timer);
    if (this.#running === run) {
      this.#died(`Execution stopped: ${reason}. The code did not stop when interrupted. ${LOST}`, { restart: true });
    }
  }

  #codeOutput(message, run) {
    const value = message.value ?? {};
    // Not ok: the request failed around the code (an interrupt can land there too, just before it or as
    // its result is sent); it is told like one that landed in the code.
    const output = !message.ok ? failed(`${message.error?.type ?? "Error"}: ${message.error?.message ?? "the sandbox failed"}`) : {
      output: this.options.wireValues ? value.output ?? null : plainValue(value.output ?? null),
      logs: typeof value.logs === "string" ? value.logs : "",
      is_final_answer: value.is_final_answer === true,
      error: typeof value.error === "string" ? value.error : null,
    };
    if (run.stopping && output.error?.startsWith(INTERRUPTED)) {
      output.error = `Execution stopped: ${run.stopping}. Variables defined before that are kept. `
        + "Make the code faster or split the work across steps.";
    }
    return output;
  }

  /** The sandbox is gone (crashed, or we restart it): fail what waits, and expect a new `ready`. */
  #died(reason, { restart, wasRunning = Boolean(this.#running) }) {
    // Between runs: the next run is told, since what earlier steps defined is gone.
    if (!wasRunning && this.#used) this.#lostNote = `Note: ${reason}`;
    if (restart) this.#renew();
    this.#expectReady();
    this.#pending.rejectAll(new SandboxDiedError(reason));
    this.options.onEvent({ type: restart ? "restarted" : "crashed", reason });
  }

  /** Ask for a fresh worker; what the old one still says on its tool port is not heard. */
  #renew() {
    this.#send({ type: "restart" });
    this.#closeToolPort();
    this.#expectReady();
  }

  #expectReady() {
    if (this.#markReady) return; // already waiting: keep the promise callers hold
    this.#ready = new Promise((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    this.#ready.catch(() => {});
  }

  async #whenReady(timeoutMs = this.options.bootTimeoutMs) {
    if (this.#closed) throw new SandboxDiedError("the sandbox was closed");
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new SandboxDiedError(`the sandbox did not start within ${timeoutMs / 1000} s`)),
        timeoutMs);
    });
    try {
      return await Promise.race([this.#ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #request(type, fields) {
    await this.#whenReady();
    const message = await this.#pending.open((id) => this.#send({ type, id, ...fields }), this.options.requestTimeoutMs);
    if (!message.ok) throw new Error(`${message.error?.type}: ${message.error?.message}`);
    return message.value;
  }

  #send(message) {
    this.#sendText(encode(message));
  }

  #sendText(text) {
    if (!this.#closed) this.#port.postMessage(text);
  }

  #closeToolPort() {
    this.#toolPort?.close();
    this.#toolPort = null;
  }

  async #receive(data) {
    let message;
    try {
      message = decode(data, SANDBOX_MESSAGE_TYPES);
    } catch (error) {
      this.options.onEvent({ type: "dropped", reason: error.message });
      return this.#unreadable(error);
    }
    switch (message.type) {
      case "result":
        return this.#pending.resolve(message);
      case "tool_call":
        return this.#answerTool(message);
      case "ready":
        return this.#onReady(message);
      case "crashed": {
        const reason = `The sandbox crashed (${String(message.reason).slice(0, 300)}) and was replaced. ${LOST}`;
        const wasRunning = Boolean(this.#running);
        this.#running?.settle(failed(reason));
        this.#died(reason, { restart: false, wasRunning });
        if (message.fatal) this.#failReady?.(new SandboxDiedError(`The sandbox cannot start: ${message.reason}`));
        return undefined;
      }
      case "log":
        return this.options.onEvent({ type: "log", text: String(message.text).slice(0, 2000) });
      default:
        return undefined;
    }
  }

  /**
   * A message from the sandbox that could not be read (too big, too deep, not the protocol) while code
   * runs: the step fails with what happened and the sandbox is replaced, so nothing waits for an
   * answer that was lost.
   */
  #unreadable(error) {
    const run = this.#running;
    if (!run) return;
    const reason = `The sandbox sent a message that could not be read (${error.message}), so it was restarted. ${LOST}`;
    run.settle(failed(reason));
    this.#died(reason, { restart: true, wasRunning: true });
  }

  #useToolPort(event) {
    this.#toolPort?.close(); // the previous worker's, if any: it is gone
    const [toolPort] = event.ports;
    if (!toolPort) return;
    this.#toolPort = toolPort;
    this.#toolPortKey = String(event.data.key ?? "");
    this.#answerOnToolPort = event.data.answerHere === true;
    toolPort.onmessage = (portEvent) => {
      if (portEvent.data?.k !== this.#toolPortKey) return; // not framed by the worker's core
      let message;
      try {
        message = decode(portEvent.data.m, ["tool_call"]);
      } catch (error) {
        this.options.onEvent({ type: "dropped", reason: error.message });
        return this.#unreadable(error);
      }
      this.#answerTool(message, toolPort);
    };
  }

  async #onReady(message) {
    this.#used = false;
    this.#workers += 1;
    // A fresh sandbox has no tools: give it the current ones before anyone else may use it.
    if (this.#tools.length) {
      try {
        await this.#pending.open((id) => this.#send({ type: "send_tools", id, tools: this.#tools }),
          this.options.requestTimeoutMs);
      } catch (error) {
        this.options.onEvent({ type: "log", text: `could not send the tools to the new sandbox: ${error.message}` });
      }
    }
    try {
      await this.#installInto(this.#wheels); // a new worker: the installed packages again
      if (Object.keys(this.#variables).length) {
        await this.#pending.open((id) => this.#send({ type: "send_variables", id, variables: this.#variables }),
          this.options.requestTimeoutMs);
      }
    } catch (error) {
      this.options.onEvent({ type: "log", text: error.message });
    }
    this.info = message;
    this.options.onEvent({ type: "ready", ...message });
    const markReady = this.#markReady;
    this.#markReady = this.#failReady = null;
    markReady?.(message);
  }

  async #answerTool(message, fromPort = null) {
    this.#toolCallsInFlight += 1;
    const worker = this.#workers;
    const run = this.#running;
    try {
      const text = await this.#runTool(message);
      // Only the run that asked waits for it. A late answer would reach the next run's call: from a fresh
      // worker (which numbers its calls from 1 again) as the answer of the same id; in a worker that stays,
      // through the shared memory where the next call's own answer is, overwriting it before it is read.
      if (run !== this.#running || worker !== this.#workers || this.#markReady) return;
      if (fromPort && fromPort === this.#toolPort && this.#answerOnToolPort) fromPort.postMessage(text);
      else this.#sendText(text);
    } finally {
      this.#toolCallsInFlight -= 1;
    }
  }

  /** The `tool_result` for a `tool_call`, as protocol text (encoded once: this is every tool call's path). */
  async #runTool(message) {
    const { id, name } = message;
    const wire = this.options.wireValues ? (value) => value : plainValue;
    const args = Array.isArray(message.args) ? wire(message.args) : [];
    const kwargs = message.kwargs && typeof message.kwargs === "object" && !Array.isArray(message.kwargs)
      ? wire(message.kwargs) : {};
    try {
      // Only the code of a step under way calls tools: not a timer or task it left behind.
      if (!this.#running || this.#running.stopping) {
        throw Object.assign(new Error("tools can be called only while a step's code runs"),
          { name: "AgentToolCallError" });
      }
      if (typeof name !== "string" || !this.#tools.some((tool) => tool.name === name)) {
        throw Object.assign(new Error(`there is no tool named ${JSON.stringify(String(name).slice(0, 100))}`),
          { name: "AgentToolCallError" });
      }
      if (!this.options.onToolCall) throw new Error("no tool runner was given to the sandbox client");
      const value = await this.options.onToolCall(name, args, kwargs);
      // Not JSON-compatible or too big: encode throws here, and that is the tool's error.
      return encode({ type: "tool_result", id, ok: true, value: value === undefined ? null : value });
    } catch (error) {
      // An agent error was worded by the host already; anything else gets the tool's name.
      const agentError = typeof error?.name === "string" && error.name.startsWith("Agent");
      return encode({ type: "tool_result", id, ok: false, error: {
        type: agentError ? error.name : "AgentToolExecutionError",
        message: agentError ? String(error.message) : `tool ${JSON.stringify(name)} failed: ${error?.message ?? error}`,
      } });
    }
  }
}

function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function failed(error) {
  return { output: null, logs: "", is_final_answer: false, error };
}
