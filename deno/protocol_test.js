// deno test --no-prompt --allow-read=web,deno deno/protocol_test.js  (run by tests/unit/test_protocol.py)
import { decode, encode, HOST_REPLIES, HOST_REQUESTS, MESSAGE_FIELDS, MESSAGE_TYPES, PendingRequests, plainValue,
  ProtocolError, RequestTimeoutError, SandboxDiedError } from "../web/protocol.js";

function assert(condition, message) {
  if (!condition) throw new Error(message ?? "assertion failed");
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

Deno.test("print the message types for the Python side to compare", () => {
  console.log(`MESSAGE_TYPES=${JSON.stringify(MESSAGE_TYPES)}`);
  console.log(`FIELDS=${JSON.stringify({ MESSAGE_FIELDS, HOST_REQUESTS, HOST_REPLIES })}`);
});

Deno.test("decode checks every described field's type", () => {
  for (const bad of ['{"type":"tool_call","id":1,"name":7,"args":[],"kwargs":{}}', '{"type":"result","id":1}',
    '{"type":"log","text":{"a":1}}', '{"type":"crashed","reason":"x","fatal":"yes"}']) {
    let error = null;
    try { decode(bad); } catch (caught) { error = caught; }
    assert(error instanceof ProtocolError, `accepted ${bad}`);
  }
  assert(decode('{"type":"crashed","reason":"x"}').reason === "x"); // an optional field may be absent
  assert(decode('{"type":"interrupt","sandbox":3}', Object.keys(HOST_REQUESTS), HOST_REQUESTS).sandbox === 3);
});

Deno.test("decode refuses what is not a known message", () => {
  for (const bad of ["nope", "[]", "null", '{"type":"format_disk"}', '{"type":"run","id":"1"}']) {
    let error = null;
    try { decode(bad); } catch (caught) { error = caught; }
    assert(error instanceof ProtocolError, `accepted ${bad}`);
  }
  assert(decode('{"type":"run","id":3,"code":"1"}').id === 3);
  assert(encode({ type: "ready" }) === '{"type":"ready"}');
});

Deno.test("a request without an answer times out", async () => {
  const pending = new PendingRequests();
  const error = await rejection(pending.open(() => {}, 20));
  assert(error instanceof RequestTimeoutError, String(error));
  assert(pending.size === 0);
});

Deno.test("answers reach their request; late or forged ones are refused", async () => {
  const pending = new PendingRequests();
  let sent = null;
  const answer = pending.open((id) => { sent = id; }, 1000);
  assert(!pending.resolve({ type: "result", id: sent + 100 }));
  assert(pending.resolve({ type: "result", id: sent, ok: true, value: 7 }));
  assert((await answer).value === 7);
  assert(!pending.resolve({ type: "result", id: sent }));
});

Deno.test("every pending request is rejected when the other side dies", async () => {
  const pending = new PendingRequests();
  const answers = [pending.open(() => {}, null), pending.open(() => {}, 5000)];
  pending.rejectAll(new SandboxDiedError("gone"));
  for (const answer of answers) assert((await rejection(answer)) instanceof SandboxDiedError);
  assert(pending.size === 0);
});

Deno.test("plainValue turns the float and tuple markers into JS values and keeps repr markers", () => {
  const wire = { a: { $float: 5 }, b: { $tuple: [1, { $float: 2 }] }, c: { $repr: "{1}", $type: "set" }, d: [{ $float: 3 }] };
  const plain = plainValue(wire);
  assert(JSON.stringify(plain) === '{"a":5,"b":[1,2],"c":{"$repr":"{1}","$type":"set"},"d":[3]}', JSON.stringify(plain));
});

Deno.test("plainValue gives JS values for Python's other types and leaves malformed markers as data", () => {
  const plain = plainValue({ s: { $set: [1, { $tuple: [2] }] }, b: { $bytes: "AP8=" }, m: { $dict: [[1, "one"]] },
    t: { $datetime: "2024-01-02T03:04:05+00:00" }, bad: { $set: "x" } });
  assert(plain.s instanceof Set && plain.s.has(1) && [...plain.s][1][0] === 2);
  assert(plain.b instanceof Uint8Array && plain.b.join() === "0,255");
  assert(plain.m instanceof Map && plain.m.get(1) === "one");
  assert(plain.t instanceof Date && plain.t.toISOString() === "2024-01-02T03:04:05.000Z");
  assert(plain.bad.$set === "x");
});
