// deno test --no-prompt --allow-read=web tests/js/sandbox_client_test.js  (run by tests/unit/test_protocol.py)
//
// SandboxClient against a scripted relay on a MessageChannel: how it tells a sandbox whose process
// ended (silence after answering pings) and how it goes on with a new frame's port.
import { SandboxClient } from "../../web/sandbox-client.js";

function assert(condition, message) {
  if (!condition) throw new Error(message ?? "assertion failed");
}

const READY = JSON.stringify({ type: "ready", startup_ms: 1, snapshot: false, bridge: "jspi", interrupts: false });

/**
 * The frame's side of a port: answers pings while `alive` (and `answersPings`), and requests with
 * `answer(message)` (null: no answer now; `relay.result(id, value)` can answer later).
 */
function fakeRelay({ answersPings = true, answer = () => ({ ok: true, value: null }), ready = READY } = {}) {
  const channel = new MessageChannel();
  const send = (message) => channel.port2.postMessage(typeof message === "string" ? message : JSON.stringify(message));
  const relay = {
    port: channel.port1, alive: true, received: [], send,
    result: (id, value) => send({ type: "result", id, ok: true, value }),
    close: () => channel.port2.close(),
  };
  channel.port2.onmessage = ({ data }) => {
    if (!relay.alive) return;
    if (data?.kind === "ping") {
      if (answersPings) channel.port2.postMessage({ kind: "pong", n: data.n });
      return;
    }
    if (typeof data !== "string") return;
    const message = JSON.parse(data);
    relay.received.push(message);
    const reply = answer(message);
    if (reply) send({ type: "result", id: message.id, ...reply });
  };
  send(ready);
  return relay;
}

const output = (value) => ({ output: value, logs: "", is_final_answer: false, error: null });
const OPTIONS = { heartbeatMs: 20, lostAfterMs: 150, timeoutMs: 10_000 };
const TOOL = { name: "add", description: "Add.", inputs: {}, output_type: "integer" };

Deno.test("a relay that falls silent is lost; the run fails clearly and a new port takes over", async () => {
  const events = [];
  const first = fakeRelay({ answer: (message) => (message.type === "run" ? null : { ok: true, value: null }) });
  const client = new SandboxClient(first.port, { ...OPTIONS, onEvent: (event) => events.push(event) });
  await client.ready();
  await client.sendTools([TOOL]);
  await new Promise((resolve) => setTimeout(resolve, 60)); // a pong has come back: the relay answers pings
  const running = client.run("while True: pass");
  await new Promise((resolve) => setTimeout(resolve, 30));
  first.alive = false; // the frame's process ends: nothing answers any more
  const result = await running;
  assert(/stopped answering/.test(result.error) && /lost/.test(result.error), result.error);
  assert(events.some((event) => event.type === "lost"), JSON.stringify(events));

  const second = fakeRelay({ answer: (message) => (message.type === "run"
    ? { ok: true, value: output(7) } : { ok: true, value: null }) });
  client.attach(second.port);
  const again = await client.run("3 + 4");
  assert(again.output === 7 && again.error === null, JSON.stringify(again));
  // The new sandbox got the tools before the run.
  assert(second.received[0].type === "send_tools" && second.received[0].tools[0].name === "add");
  client.close();
  first.close();
  second.close();
});

Deno.test("a relay that never answered a ping is not judged by its silence", async () => {
  const events = [];
  const relay = fakeRelay({ answersPings: false, answer: (message) => (message.type === "run" ? null : { ok: true, value: null }) });
  const client = new SandboxClient(relay.port, { ...OPTIONS, onEvent: (event) => events.push(event) });
  await client.ready();
  const running = client.run("slow()");
  await new Promise((resolve) => setTimeout(resolve, 400)); // well past lostAfterMs
  relay.result(relay.received.find((message) => message.type === "run").id, output(1));
  const result = await running;
  assert(result.output === 1 && result.error === null, JSON.stringify(result));
  assert(!events.some((event) => event.type === "lost"), JSON.stringify(events));
  client.close();
  relay.close();
});

Deno.test("ping() measures one round trip and waits for its own pong", async () => {
  const relay = fakeRelay();
  const client = new SandboxClient(relay.port, OPTIONS);
  await client.ready();
  const times = await Promise.all([client.ping(), client.ping(), client.ping()]);
  assert(times.every((ms) => ms >= 0 && ms < 1000), JSON.stringify(times));
  client.close();
  relay.close();
});

Deno.test("ping() gives null when nothing answers in time, and after the port is given up", async () => {
  const relay = fakeRelay({ answersPings: false });
  const client = new SandboxClient(relay.port, OPTIONS);
  await client.ready();
  assert((await client.ping({ timeoutMs: 50 })) === null);
  const pending = client.ping({ timeoutMs: 10_000 });
  client.close();
  assert((await pending) === null);
  relay.close();
});

Deno.test("silence while a tool call is under way is not taken for a lost sandbox", async () => {
  const events = [];
  let release;
  const relay = fakeRelay({ answer: (message) => (message.type === "run" ? null : { ok: true, value: null }) });
  const client = new SandboxClient(relay.port, { ...OPTIONS, onEvent: (event) => events.push(event),
    onToolCall: () => new Promise((resolve) => { release = resolve; }) });
  await client.ready();
  await client.sendTools([TOOL]);
  await new Promise((resolve) => setTimeout(resolve, 60)); // pongs came: silence would count now
  const running = client.run("add()");
  relay.send({ type: "tool_call", id: 1, name: "add", args: [], kwargs: {} });
  await new Promise((resolve) => setTimeout(resolve, 30));
  relay.alive = false; // the page's tool holds the thread the frame shares: no pongs meanwhile
  await new Promise((resolve) => setTimeout(resolve, 400)); // well past lostAfterMs
  assert(!events.some((event) => event.type === "lost"), JSON.stringify(events));
  relay.alive = true;
  release(3);
  relay.result(relay.received.find((message) => message.type === "run").id, output(3));
  assert((await running).output === 3);
  client.close();
  relay.close();
});

Deno.test("a reset keeps the installed packages unless told not to; then a fresh worker gets none", async () => {
  const relay = fakeRelay({ answer: (message) => {
    if (message.type !== "restart") return { ok: true, value: null };
    setTimeout(() => relay.send(READY), 5); // the fresh worker is ready
    return null;
  } });
  const client = new SandboxClient(relay.port, OPTIONS);
  await client.ready();
  await client.installWheels({ "wa_extra-1.0-py3-none-any.whl": "UEs=" });
  await client.reset(); // no code ran: the same worker, told to reset, keeps the package
  await client.reset({ packages: false }); // a fresh worker, and nothing installed into it
  await client.reset({ packages: false }); // nothing to drop: a plain reset again
  const types = relay.received.map((message) => message.type);
  assert(JSON.stringify(types) === JSON.stringify(["install", "reset", "restart", "reset"]), JSON.stringify(types));
  client.close();
  relay.close();
});

Deno.test("a tool call of a replaced worker gets no answer: the fresh worker's call of the same id gets its own", async () => {
  let releaseSlow;
  const relay = fakeRelay({ answer: (message) => {
    if (message.type === "restart") setTimeout(() => relay.send(READY), 5); // the fresh worker is ready
    return message.type === "run" || message.type === "restart" || message.type === "tool_result"
      ? null : { ok: true, value: null };
  } });
  const client = new SandboxClient(relay.port, { ...OPTIONS, onToolCall: (name, [text]) => (text === "slow"
    ? new Promise((resolve) => { releaseSlow = () => resolve("from the earlier run"); }) : text) });
  await client.ready();
  await client.sendTools([{ ...TOOL, name: "echo" }]);
  const first = client.run("echo('slow')");
  relay.send({ type: "tool_call", id: 1, name: "echo", args: ["slow"], kwargs: {} }); // ids start at 1 in every worker
  await new Promise((resolve) => setTimeout(resolve, 20));
  relay.result(relay.received.find((message) => message.type === "run").id, output(null)); // stopped meanwhile
  await first;
  await client.reset(); // code ran: a fresh worker, whose tool call ids start at 1 again
  const second = client.run("echo('legit')");
  relay.send({ type: "tool_call", id: 1, name: "echo", args: ["legit"], kwargs: {} });
  await new Promise((resolve) => setTimeout(resolve, 20));
  releaseSlow(); // the earlier run's tool ends now
  await new Promise((resolve) => setTimeout(resolve, 20));
  const answers = relay.received.filter((message) => message.type === "tool_result");
  assert(JSON.stringify(answers.map((message) => message.value)) === JSON.stringify(["legit"]), JSON.stringify(answers));
  relay.result(relay.received.findLast((message) => message.type === "run").id, output("legit"));
  assert((await second).output === "legit");
  client.close();
  relay.close();
});

Deno.test("a tool call of a run that ended gets no answer, even from the worker that serves the next run", async () => {
  // In that worker the answer would land in the shared memory where the next call's own answer waits to be read.
  let releaseSlow;
  const relay = fakeRelay({ answer: (message) => (message.type === "run" || message.type === "tool_result"
    ? null : { ok: true, value: null }) });
  const client = new SandboxClient(relay.port, { ...OPTIONS, onToolCall: (name, [text]) => (text === "slow"
    ? new Promise((resolve) => { releaseSlow = () => resolve("from the earlier run"); }) : text) });
  await client.ready();
  await client.sendTools([{ ...TOOL, name: "echo" }]);
  const first = client.run("echo('slow')");
  relay.send({ type: "tool_call", id: 1, name: "echo", args: ["slow"], kwargs: {} });
  await new Promise((resolve) => setTimeout(resolve, 20));
  relay.result(relay.received.find((message) => message.type === "run").id, output(null)); // stopped meanwhile
  await first;
  const second = client.run("echo('legit')"); // the same worker: its next call is its second
  relay.send({ type: "tool_call", id: 2, name: "echo", args: ["legit"], kwargs: {} });
  await new Promise((resolve) => setTimeout(resolve, 20));
  releaseSlow(); // the earlier run's tool ends now
  await new Promise((resolve) => setTimeout(resolve, 20));
  const answers = relay.received.filter((message) => message.type === "tool_result");
  assert(JSON.stringify(answers.map((message) => [message.id, message.value])) === JSON.stringify([[2, "legit"]]),
    JSON.stringify(answers));
  relay.result(relay.received.findLast((message) => message.type === "run").id, output("legit"));
  assert((await second).output === "legit");
  assert(!relay.received.some((message) => message.type === "restart"), "the worker was kept");
  client.close();
  relay.close();
});

Deno.test("an interrupt that lands around the code, not in it, is told as the run's interrupt", async () => {
  // The sandbox answers the run request itself as interrupted (the interrupt came just before the code
  // started, or as its result was sent): the model hears that the run was interrupted, variables kept.
  const relay = fakeRelay({ answer: (message) => (["run", "interrupt"].includes(message.type) ? null
    : { ok: true, value: null }), ready: READY.replace('"interrupts":false', '"interrupts":true') });
  const client = new SandboxClient(relay.port, { ...OPTIONS, graceMs: 5_000 });
  await client.ready();
  const running = client.run("while True: pass");
  await new Promise((resolve) => setTimeout(resolve, 20));
  const stopped = client.interrupt();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert(relay.received.some((message) => message.type === "interrupt"), JSON.stringify(relay.received));
  relay.send({ type: "result", id: relay.received.find((message) => message.type === "run").id, ok: false,
    error: { type: "KeyboardInterrupt", message: "the request was interrupted" } });
  const result = await running;
  await stopped;
  assert(/^Execution stopped: the run was interrupted\. Variables defined before that are kept/.test(result.error),
    result.error);
  assert(!relay.received.some((message) => message.type === "restart"), "the sandbox was kept");
  client.close();
  relay.close();
});
