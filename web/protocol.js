// The sandbox wire protocol, JavaScript side. Twin of wasm_agent/executor/protocol.py, which
// documents every message; tests/unit/test_protocol.py checks that both describe the same messages,
// field by field. Plain ES module with no imports: Deno, module workers and pages load it as is.

/** Keep in the same order as MESSAGE_TYPES in wasm_agent/executor/protocol.py. */
export const MESSAGE_TYPES = Object.freeze([
  "run", "send_tools", "send_variables", "reset", "tool_result", "interrupt", "restart",
  "result", "tool_call", "ready", "crashed", "log", "install",
]);
export const REQUEST_TYPES = Object.freeze(["run", "send_tools", "send_variables", "reset", "install"]);
/** What a sandbox may send to its host; anything else from it is dropped. */
export const SANDBOX_MESSAGE_TYPES = Object.freeze(["result", "tool_call", "ready", "crashed", "log"]);

/**
 * Every message's fields and their types: "int", "number", "string", "bool", "list", "object", "any";
 * a trailing "?" makes a field optional (absent or null). `decode` checks them; other fields are ignored.
 * Keep in step with MESSAGE_FIELDS in wasm_agent/executor/protocol.py.
 */
export const MESSAGE_FIELDS = deepFreeze({
  run: { id: "int", code: "string", max_output_chars: "int?" },
  send_tools: { id: "int", tools: "list" },
  send_variables: { id: "int", variables: "object" },
  reset: { id: "int" },
  tool_result: { id: "int", ok: "bool", value: "any?", error: "object?", interrupted: "bool?" },
  interrupt: {},
  restart: {},
  result: { id: "int", ok: "bool", value: "any?", error: "object?" },
  tool_call: { id: "int", name: "string", args: "list", kwargs: "object" },
  ready: { startup_ms: "number", snapshot: "bool", bridge: "string", interrupts: "bool", phases_ms: "object?",
           host_ms: "number?", spare: "bool?" },
  crashed: { reason: "string", fatal: "bool?" },
  log: { text: "string" },
  install: { id: "int", wheels: "object" },
});

/**
 * The sandbox host's line protocol (deno/sandbox_host.js, driven by wasm_agent/executor/sandbox.py):
 * one Deno process serves several sandboxes, each a SandboxClient over its own permissionless workers,
 * named by `sandbox` in every message. Requests carry an `id` that their `answer` repeats.
 */
export const HOST_REQUESTS = deepFreeze({
  open: { sandbox: "int", options: "object", tools: "list", variables: "object", wheels: "object" },
  close: { sandbox: "int" },
  run: { sandbox: "int", id: "int", code: "string", timeout_ms: "number?", max_output_chars: "int?" },
  send_tools: { sandbox: "int", id: "int", tools: "list" },
  send_variables: { sandbox: "int", id: "int", variables: "object" },
  reset: { sandbox: "int", id: "int" },
  install: { sandbox: "int", id: "int", wheels: "object" },
  interrupt: { sandbox: "int" },
  tool_result: { sandbox: "int", id: "int", ok: "bool", value: "any?", error: "object?" },
});
/**
 * What the host sends back: answers, the sandboxes' tool calls, their events (ready, crashed, log...).
 * `stuck`: a worker of `sandbox` was ended while its code still ran; its thread may spin on in the process
 * (Deno cannot end a thread busy in wasm), so the process takes no new sandbox and ends once none is in use.
 */
export const HOST_REPLIES = deepFreeze({
  answer: { sandbox: "int", id: "int", ok: "bool", value: "any?", error: "object?" },
  tool_call: { sandbox: "int", id: "int", name: "string", args: "list", kwargs: "object" },
  event: { sandbox: "int", event: "object" },
  snapshot_failed: { reason: "string" },
  stuck: { sandbox: "int", reason: "string" },
});

export const MAX_MESSAGE_CHARS = 16 * 1024 * 1024;
/** Arrays and objects inside one another, the envelope included; deeper messages are refused unread. */
export const MAX_MESSAGE_DEPTH = 128;

// Taken before any other code runs here: generated code in a sandbox worker may replace the globals.
const parseJSON = JSON.parse;
const stringifyJSON = JSON.stringify;

/**
 * Wire data as plain JavaScript values. The one-key markers that keep Python's types across the
 * boundary (wasm_agent/executor/wire_values.py) become the value JavaScript has for them:
 * {"$float"} a number, {"$tuple"} an array, {"$bytes"}/{"$bytearray"} a Uint8Array, {"$set"}/{"$frozenset"}
 * a Set, {"$dict"} (keys that are not strings) a Map, {"$datetime"} a Date when it has a UTC offset (a naive
 * one names no instant: its ISO string), {"$date"}/{"$time"} their ISO strings, {"$timedelta"} its seconds,
 * {"$decimal"}/{"$uuid"}/{"$path"} strings (a decimal keeps its digits), {"$complex"} {real, imag},
 * {"$image"} a Blob of the image file, {"$object"} (a dataclass, namedtuple or object) an object of its
 * fields. A marker whose data is malformed stays the data it is; repr markers ({"$repr", "$type"}) stay.
 */
export function plainValue(data) {
  if (Array.isArray(data)) return data.map(plainValue);
  if (data === null || typeof data !== "object") return data;
  const keys = Object.keys(data);
  if (keys.length === 1 && Object.hasOwn(MARKERS, keys[0])) {
    try {
      const value = MARKERS[keys[0]](data[keys[0]]);
      if (value !== MALFORMED) return value;
    } catch {
      // malformed marker data (bad base64, a wrong shape): it stays the data it is
    }
  }
  return Object.fromEntries(keys.map((key) => [key, plainValue(data[key])]));
}

const MALFORMED = Symbol("malformed marker");
// Taken at load, like JSON's functions above.
const decodeBase64 = globalThis.atob;
const BlobClass = globalThis.Blob;
const ISO_WITH_OFFSET = /(?:Z|[+-]\d{2}:\d{2})$/;
const IMAGE_TYPES = [["iVBORw0KGgo", "image/png"], ["/9j/", "image/jpeg"], ["R0lGOD", "image/gif"],
  ["UklGR", "image/webp"], ["Qk", "image/bmp"]]; // the base64 of each format's first bytes

const isList = (payload) => Array.isArray(payload);
const isNumber = (payload) => typeof payload === "number";

function bytesOf(base64) {
  if (typeof base64 !== "string") return MALFORMED;
  const text = decodeBase64(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function dateTimeOf(iso) {
  if (typeof iso !== "string") return MALFORMED;
  if (!ISO_WITH_OFFSET.test(iso)) return iso;
  const date = new Date(iso.replace(/(\.\d{3})\d+/, "$1")); // Python writes microseconds
  return Number.isNaN(date.getTime()) ? iso : date;
}

function imageOf(base64) {
  const bytes = bytesOf(base64);
  if (bytes === MALFORMED || typeof BlobClass !== "function") return bytes;
  const type = IMAGE_TYPES.find(([start]) => base64.startsWith(start))?.[1] ?? "application/octet-stream";
  return new BlobClass([bytes], { type });
}

const string = (payload) => (typeof payload === "string" ? payload : MALFORMED);

const MARKERS = Object.freeze({
  __proto__: null,
  $float: (payload) => (isNumber(payload) ? payload : MALFORMED),
  $tuple: (payload) => (isList(payload) ? payload.map(plainValue) : MALFORMED),
  $bytes: bytesOf,
  $bytearray: bytesOf,
  $set: (payload) => (isList(payload) ? new Set(payload.map(plainValue)) : MALFORMED),
  $frozenset: (payload) => (isList(payload) ? new Set(payload.map(plainValue)) : MALFORMED),
  $dict: (payload) => (isList(payload) && payload.every((pair) => isList(pair) && pair.length === 2)
    ? new Map(payload.map(([key, value]) => [plainValue(key), plainValue(value)])) : MALFORMED),
  $datetime: dateTimeOf,
  $date: string,
  $time: string,
  $timedelta: (payload) => (isList(payload) && payload.length === 3 && payload.every(isNumber)
    ? payload[0] * 86400 + payload[1] + payload[2] / 1e6 : MALFORMED),
  $decimal: string,
  $uuid: string,
  $path: string,
  $complex: (payload) => (isList(payload) && payload.length === 2 && payload.every(isNumber)
    ? { real: payload[0], imag: payload[1] } : MALFORMED),
  $image: imageOf,
  $object: (payload) => (payload && typeof payload === "object" && payload.fields && typeof payload.fields === "object"
    && !isList(payload.fields) ? plainValue(payload.fields) : MALFORMED),
});

export class ProtocolError extends Error {}

/**
 * Throw ProtocolError when `text` is over the size limit or nests arrays and objects deeper than the
 * depth limit: checked on the text, in one loop, before any parser (JSON.parse, Python's json, Pyodide's
 * conversions) could recurse into it. Twin of `check_shape` in wasm_agent/executor/protocol.py.
 * @param {string} text
 */
export function checkShape(text, maxChars = MAX_MESSAGE_CHARS, maxDepth = MAX_MESSAGE_DEPTH) {
  if (typeof text !== "string") throw new ProtocolError("a message must be a JSON string");
  if (text.length > maxChars) throw new ProtocolError(`message of ${text.length} characters is over the ${maxChars} limit`);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 92) i++; // backslash: the next character is escaped
      else if (code === 34) inString = false;
    } else if (code === 34) {
      inString = true;
    } else if (code === 91 || code === 123) {
      if (++depth > maxDepth) throw new ProtocolError(`message nested deeper than ${maxDepth} levels`);
    } else if (code === 93 || code === 125) {
      depth--;
    }
  }
}

export class SandboxDiedError extends Error {}
export class RequestTimeoutError extends Error {}

/**
 * Parse and check one message: its shape, its type, and its fields' types.
 * @param {string} text
 * @param {readonly string[]} [allowed] message types accepted here
 * @param {Record<string, Record<string, string>>} [fields] the descriptions of those types
 * @returns {{type: string, id?: number, [key: string]: unknown}}
 */
export function decode(text, allowed = MESSAGE_TYPES, fields = MESSAGE_FIELDS) {
  checkShape(text);
  let message;
  try {
    message = parseJSON(text);
  } catch (error) {
    throw new ProtocolError(`not JSON: ${error.message}`);
  }
  if (message === null || typeof message !== "object" || Array.isArray(message) || !allowed.includes(message.type)
      || !Object.hasOwn(fields, message.type)) {
    throw new ProtocolError(`not an accepted message (type ${JSON.stringify(message?.type)})`);
  }
  if ("id" in message && !Number.isSafeInteger(message.id)) throw new ProtocolError("`id` must be an integer");
  checkFields(message, fields[message.type]);
  return message;
}

const FIELD_CHECKS = {
  int: Number.isSafeInteger,
  number: Number.isFinite,
  string: (value) => typeof value === "string",
  bool: (value) => typeof value === "boolean",
  list: Array.isArray,
  object: (value) => value !== null && typeof value === "object" && !Array.isArray(value),
  any: () => true,
};

/** Throw ProtocolError unless `message` has the described fields, of their types. */
export function checkFields(message, description) {
  for (const [name, kind] of Object.entries(description)) {
    const optional = kind.endsWith("?");
    const value = message[name];
    if (value === undefined || value === null) {
      if (optional) continue;
      throw new ProtocolError(`a ${message.type} message needs \`${name}\``);
    }
    if (!FIELD_CHECKS[optional ? kind.slice(0, -1) : kind](value)) {
      throw new ProtocolError(`\`${name}\` of a ${message.type} message must be of type ${kind.replace("?", "")}`);
    }
  }
}

function deepFreeze(object) {
  for (const value of Object.values(object)) if (typeof value === "object") Object.freeze(value);
  return Object.freeze(object);
}

/** One line of JSON for a checked message. */
export function encode(message) {
  if (!MESSAGE_TYPES.includes(message?.type)) throw new ProtocolError(`unknown message type ${message?.type}`);
  let text;
  try {
    text = stringifyJSON(message);
  } catch (error) { // a cycle, a BigInt, or nesting deep enough to overflow the stack
    throw new ProtocolError(`the message cannot be sent: ${error.message}`);
  }
  checkShape(text);
  return text;
}

/**
 * Requests waiting for their answer: each has a timeout, and all are rejected
 * when the other side dies (`rejectAll`), so nothing hangs.
 */
export class PendingRequests {
  #next = 1;
  /** @type {Map<number, {resolve: Function, reject: Function, timer: number | undefined}>} */
  #waiting = new Map();

  /**
   * @param {(id: number) => void} send sends the request carrying this id
   * @param {number | null} timeoutMs
   * @returns {Promise<object>} the answer
   */
  open(send, timeoutMs) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs == null ? undefined : setTimeout(() => {
        this.#waiting.delete(id);
        reject(new RequestTimeoutError(`no answer to request ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, { resolve, reject, timer });
      try {
        send(id);
      } catch (error) {
        this.#settle(id)?.reject(error);
      }
    });
  }

  /** Deliver an answer; false when nobody waits for its id (late or forged). */
  resolve(message) {
    const entry = this.#settle(message.id);
    entry?.resolve(message);
    return Boolean(entry);
  }

  rejectAll(error) {
    for (const id of [...this.#waiting.keys()]) this.#settle(id).reject(error);
  }

  get size() {
    return this.#waiting.size;
  }

  #settle(id) {
    const entry = this.#waiting.get(id);
    if (!entry) return undefined;
    this.#waiting.delete(id);
    clearTimeout(entry.timer);
    return entry;
  }
}
