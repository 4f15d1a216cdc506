// The test page's driver: Playwright calls window.sandboxTest.* with page.evaluate.
import { loadSandboxAssets, openSandboxFrame } from "../sandbox-frame.js";
import { SandboxClient } from "../sandbox-client.js";

const events = [];
const toolCalls = [];
const held = new Map(); // key -> resolve: `hold` calls waiting for the test to `release` them

// Tools that run here, in the page, like the agent's tools would.
const TOOLS = {
  add: { description: "Add two integers.", inputs: { a: { type: "integer", description: "first" }, b: { type: "integer", description: "second" } },
    output_type: "integer", fn: (a, b) => a + b },
  greet: { description: "Greet someone.", inputs: { name: { type: "string", description: "who" }, punctuation: { type: "string", description: "end", nullable: true } },
    output_type: "string", fn: (name, punctuation = "!") => `Hello, ${name}${punctuation ?? "!"}` },
  fail: { description: "Always fails.", inputs: {}, output_type: "string", fn: () => { throw new Error("the tool broke on purpose"); } },
  slow: { description: "Answers after ms milliseconds.", inputs: { ms: { type: "integer", description: "delay" } },
    output_type: "integer", fn: (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)) },
  hold: { description: "Answers when the test releases it.", inputs: { key: { type: "string", description: "which call" } },
    output_type: "any", fn: (key) => new Promise((resolve) => held.set(key, resolve)) },
  echo: { description: "Returns its argument.", inputs: { value: { type: "any", description: "anything" } },
    output_type: "any", fn: (value) => value },
  final_answer: { description: "Give the final answer.", inputs: { answer: { type: "any", description: "the answer" } },
    output_type: "any", fn: (answer) => answer },
};

function onToolCall(name, args, kwargs) {
  toolCalls.push({ name, args, kwargs });
  const tool = TOOLS[name];
  const names = Object.keys(tool.inputs);
  const values = names.map((key, i) => (key in kwargs ? kwargs[key] : args[i]));
  return tool.fn(...values);
}

window.sandboxTest = {
  events,
  toolCalls,
  client: null,
  frame: null,
  spareReady: false,
  async start(options = {}) {
    const t0 = performance.now();
    const assets = await loadSandboxAssets({ base: "../", pyodide: "pyodide/", wheel: options.wheel, snapshot: options.snapshot });
    const t1 = performance.now();
    const openFrame = () => openSandboxFrame({ assets, spare: options.spare ?? true, maxMemoryMb: options.maxMemoryMb ?? 512,
      frameUrl: options.frameUrl });
    this.frame = await openFrame();
    this.client = new SandboxClient(this.frame.port, { onToolCall, timeoutMs: options.timeoutMs ?? 5000,
      onEvent: async (event) => {
        events.push({ ...event, t: performance.now() });
        if (event.type === "lost") { // the frame's process is gone: what a page embedding the sandbox does
          this.frame.destroy();
          this.frame = await openFrame();
          this.client.attach(this.frame.port);
        }
        // Whether a warm spare is ready now: a restart or crash uses it up.
        if (event.text === "sandbox: the warm spare is ready") this.spareReady = true;
        else if (event.type === "restarted" || event.type === "crashed" || event.type === "reset") this.spareReady = false;
      },
      maxOutputChars: options.maxOutputChars ?? 20000 });
    const ready = await this.client.ready();
    await this.client.sendTools(Object.entries(TOOLS).map(([name, { description, inputs, output_type }]) =>
      ({ name, description, inputs, output_type })));
    return { ready, atomics: this.frame.atomics, isolated: self.crossOriginIsolated, fetchMs: t1 - t0, totalMs: performance.now() - t0 };
  },
  async run(code, limits) {
    const t0 = performance.now();
    const result = await this.client.run(code, limits);
    return { ...result, ms: performance.now() - t0 };
  },
  /** Start a run without waiting for it: `background` is its promise, `backgroundResult` its result once settled. */
  runInBackground(code, limits) {
    this.backgroundResult = null;
    this.background = this.run(code, limits).then((result) => { this.backgroundResult = result; });
  },
  held: () => [...held.keys()],
  release(key, value) { // the answer of the `hold` call of that key, however late
    held.get(key)(value);
    held.delete(key);
  },
  async pings(count) { // message round trips to the relay, ms each
    const times = [];
    for (let i = 0; i < count; i++) times.push(await this.client.ping());
    return times;
  },
  async runAndInterrupt(code, afterMs) {
    const t0 = performance.now();
    const pending = this.client.run(code, { timeoutMs: null });
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    const t1 = performance.now();
    await this.client.interrupt();
    const result = await pending;
    return { ...result, stopMs: performance.now() - t1, ms: performance.now() - t0 };
  },
};
