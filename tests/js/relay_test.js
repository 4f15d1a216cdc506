// deno test --no-prompt --allow-read=web tests/js/relay_test.js  (run by tests/unit/test_protocol.py)
//
// The relay core (web/sandbox/relay.js) against scripted workers: what it passes to the host, what it
// drops, and when it replaces a worker. The browser's sandbox page and Deno's sandbox workers both run it.
import { SandboxRelay } from "../../web/sandbox/relay.js";

function assert(condition, message) {
  if (!condition) throw new Error(message ?? "assertion failed");
}

function assertEquals(actual, expected) {
  const [a, b] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== b) throw new Error(`expected ${b}, got ${a}`);
}

/** A worker that records what it is sent; `say(message)` makes it post a frame as its core would. */
class FakeWorker {
  received = [];
  terminated = false;
  postMessage(message) {
    this.received.push(message);
  }
  terminate() {
    this.terminated = true;
  }
}

/** A relay over fake workers; `workers` in start order, `emitted` what reached the host. */
function relay(options = {}) {
  const workers = [];
  const emitted = [];
  const fatal = [];
  const states = [];
  const core = new SandboxRelay({
    spawn: (state) => {
      const worker = new FakeWorker();
      workers.push(worker);
      states.push(state);
      return worker;
    },
    boot: (state) => state.worker.postMessage({ kind: "boot", key: state.key }),
    emit: (message) => emitted.push(message),
    activate: (state) => emitted.push({ announced: workers.indexOf(state.worker) }),
    onFatal: (reason) => fatal.push(reason),
    ...options,
  });
  const frame = (index, message, key = states[index].key) => {
    const m = typeof message === "string" ? message : JSON.stringify(message);
    states[index].worker.onmessage({ data: { k: key, m } });
  };
  const ready = (index) => frame(index, { type: "ready", startup_ms: 1 });
  const host = (message) => core.handle(message, JSON.stringify(message));
  return { core, workers, states, emitted, fatal, frame, ready, host };
}

Deno.test("only what the worker's core framed with its key reaches the host", () => {
  const r = relay();
  r.ready(0);
  r.frame(0, { type: "result", id: 1, ok: true, value: "forged" }, "a guess");
  r.states[0].worker.onmessage({ data: JSON.stringify({ type: "result", id: 1, ok: true }) });
  r.frame(0, { type: "log", text: "hello" });
  assertEquals(r.emitted, [{ announced: 0 }, { type: "log", text: "hello" }]);
});

Deno.test("a framed message that is not a sandbox message replaces the worker, and the host is told", () => {
  for (const bad of ["not json", '"text"', '{"type": "spell"}', "[".repeat(10) + "]".repeat(10),
    JSON.stringify({ type: "log", text: "x".repeat(16 * 1024 * 1024 + 1) })]) {
    const r = relay();
    r.ready(0);
    r.frame(0, bad);
    assert(r.workers[0].terminated, bad.slice(0, 40));
    assertEquals(r.emitted.at(-1).type, "crashed");
    assert(r.emitted.at(-1).reason.includes("could not be read"));
    assertEquals(r.workers.length, 2); // a fresh worker
    assertEquals(r.fatal, []);
  }
});

Deno.test("a second ready from a worker replaces it", () => {
  const r = relay();
  r.ready(0);
  r.ready(0);
  assert(r.workers[0].terminated);
  assert(r.emitted.at(-1).reason.includes("ready twice"));
});

Deno.test("logs past the limit of a run are dropped until the next run", () => {
  const r = relay();
  r.ready(0);
  for (let i = 0; i < 80; i++) r.frame(0, { type: "log", text: `${i}` });
  assertEquals(r.emitted.filter((m) => m.type === "log").length, 50);
  r.host({ type: "run", id: 1, code: "1" });
  r.frame(0, { type: "log", text: "again" });
  assertEquals(r.emitted.at(-1).text, "again");
});

Deno.test("an interrupt is stored once per run, and a late tool result is dropped", () => {
  const r = relay({ atomicsBridge: false });
  r.ready(0);
  const state = r.states[0];
  r.host({ type: "interrupt" }); // no run: nothing to interrupt
  assertEquals(Atomics.load(state.interrupt, 0), 0);
  r.host({ type: "run", id: 1, code: "while True: pass" });
  r.host({ type: "interrupt" });
  Atomics.store(state.interrupt, 0, 0); // the code took it
  r.host({ type: "interrupt" }); // a second one would hit code that has already stopped
  assertEquals(Atomics.load(state.interrupt, 0), 0);
  r.frame(0, { type: "tool_call", id: 5, name: "add", args: [], kwargs: {} });
  r.frame(0, { type: "result", id: 1, ok: true, value: null });
  const before = state.worker.received.length;
  r.host({ type: "tool_result", id: 5, ok: true, value: 1 }); // the step is over
  r.host({ type: "tool_result", id: 9, ok: true, value: 1 }); // never asked
  assertEquals(state.worker.received.length, before);
});

Deno.test("a restart promotes the booted spare at once, without a crash report", () => {
  const r = relay({ spare: true });
  r.ready(0);
  assertEquals(r.workers.length, 2); // the spare boots behind the serving worker
  r.ready(1);
  r.host({ type: "restart" });
  assert(r.workers[0].terminated);
  assertEquals(r.emitted, [{ announced: 0 }, { announced: 1 }]);
});

Deno.test("workers warm up before they serve; the warm-up's answers stay in the relay", () => {
  const r = relay({ warmUp: [{ type: "run", code: "1" }, { type: "reset" }] });
  r.ready(0);
  assertEquals(r.emitted, []);
  const requests = r.workers[0].received.slice(1).map((text) => JSON.parse(text));
  assertEquals(requests.map((m) => [m.type, m.id]), [["run", -2], ["reset", -1]]);
  r.frame(0, { type: "result", id: -2, ok: true, value: 1 });
  assertEquals(r.emitted, []);
  r.frame(0, { type: "result", id: -1, ok: true, value: null });
  assertEquals(r.emitted, [{ announced: 0 }]);
});

Deno.test("three boots that fail in a row are fatal; every worker is ended", () => {
  const r = relay();
  for (let i = 0; i < 3; i++) r.frame(i, { type: "crashed", reason: `boot ${i}` });
  assertEquals(r.fatal.length, 1);
  assert(r.fatal[0].includes("failed to start 3 times") && r.fatal[0].includes("boot 2"));
  assert(r.workers.every((worker) => worker.terminated));
  assertEquals(r.core.active, null);
});

Deno.test("a worker to be ended while a run had no answer is the host's to end; one that answered or crashed is not", () => {
  const ended = [];
  const r = relay({ endRunning: (state, end) => {
    ended.push(r.states.indexOf(state));
    end();
  } });
  r.ready(0);
  r.host({ type: "run", id: 1, code: "1" });
  r.frame(0, { type: "result", id: 1, ok: true, value: 1 });
  r.host({ type: "restart" }); // a reset: the worker is idle
  r.ready(1);
  r.host({ type: "run", id: 2, code: "while True: pass" });
  r.host({ type: "restart" }); // the code did not stop: its thread may spin on
  assertEquals(ended, [1]);
  r.ready(2);
  r.host({ type: "run", id: 3, code: "1" });
  r.frame(2, { type: "crashed", reason: "fatal" }); // its core said so: back in its own code
  r.ready(3);
  r.host({ type: "run", id: 4, code: "while True: pass" });
  r.core.close();
  assertEquals(ended, [1, 3]);
  assert(r.workers.every((worker) => worker.terminated));
});
