// deno run --allow-read=web,tests/js tests/js/plain_value.mjs < wire.json  (run by tests/unit/test_protocol.py)
// Reads wire data on stdin, gives it to plainValue, and prints what a JS consumer gets, each value
// tagged with its JS type, as JSON ({"Set": [...]}, {"Date": iso}, {"Uint8Array": [bytes]}...).
import { plainValue } from "../../web/protocol.js";

async function described(value) {
  if (value instanceof Set) return { Set: await Promise.all([...value].map(described)) };
  if (value instanceof Map) {
    return { Map: await Promise.all([...value].map(async ([k, v]) => [await described(k), await described(v)])) };
  }
  if (value instanceof Date) return { Date: value.toISOString() };
  if (value instanceof Uint8Array) return { Uint8Array: [...value] };
  if (value instanceof Blob) return { Blob: value.type, bytes: [...new Uint8Array(await value.arrayBuffer())] };
  if (Array.isArray(value)) return Promise.all(value.map(described));
  if (value && typeof value === "object") {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await described(v)]));
    return { Object: Object.fromEntries(entries) };
  }
  return value;
}

const wire = JSON.parse(await new Response(Deno.stdin.readable).text());
console.log(JSON.stringify(await described(plainValue(wire))));
