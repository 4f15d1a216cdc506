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
/** What the host sends back: answers, the sandboxes' tool calls, their events (ready, crashed, log...). */
export const HOST_REPLIES = deepFreeze({
  answer: { sandbox: "int", id: "int", ok: "bool", value: "any?", error: "object?" },
  tool_call: { sandbox: "int", id: "int", name: "string", args: "list", kwargs: "object" },
  event: { sandbox: "int", event: "object" },
  snapshot_failed: { reason: "string" },
});

export const MAX_MESSAGE_CHARS = 16 * 1024 * 1024;
/** Arrays and objects inside one another, the envelope included; deeper messages are refused unread. */
export const MAX_MESSAGE_DEPTH = 128;

// Taken before any other code runs here: generated code in a sandbox worker may replace the globals.
const parseJSON = JSON.parse;
const stringifyJSON = JSON.stringify;

/**
 * Wire data as plain JavaScript values: the markers that keep Python's integral floats and tuples
 * across the boundary ({"$float": 5}, {"$tuple": [...]}; wasm_agent/executor/protocol.py `exact`)
 * become the number and the array JavaScript has for them. Repr markers stay.
 */
export function plainValue(data) {
  if (Array.isArray(data)) return data.map(plainValue);
  if (data === null || typeof data !== "object") return data;
  const keys = Object.keys(data);
  if (keys.length === 1 && keys[0] === "$float" && typeof data.$float === "number") return data.$float;
  if (keys.length === 1 && keys[0] === "$tuple" && Array.isArray(data.$tuple)) return data.$tuple.map(plainValue);
  return Object.fromEntries(keys.map((key) => [key, plainValue(data[key])]));
}

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
