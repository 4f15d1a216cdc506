// The saved-run format (`wasm-agent-run/1`), checked field by field before a
// run is imported or listed: the page's twin of wasm_agent/run_format.py (the
// page imports runs before Python has loaded). Both give the same message for
// the same input, e.g.
//   steps[2].timing.start_time: expected a finite number, got "abc"
// and tests/unit/test_run_format.py holds them to it. Change both together.
//
//   import { checkExport, RunFormatError } from "./run-format.js";
//   checkExport(JSON.parse(text));   // throws RunFormatError naming the field

export const EXPORT_FORMAT = "wasm-agent-run/1";
export const STATUSES = ["running", "interrupted", "success", "max_steps_error", "error"];
export const RECORD_FIELDS = ["id", "title", "status", "steps", "created_at", "updated_at", "system_prompt", "examples",
  "imported", "model_id"];
const STEP_TYPES = ["task", "action", "planning", "note", "final_answer"];
const MAX_STEPS = 10_000;
const MAX_TEXT = 5_000_000; // characters in one string (a prompt, an observation, code)
const MAX_DEPTH = 64; // nesting of free-form values (tool arguments, outputs)
const MAX_FILE_DEPTH = MAX_DEPTH + 8; // of a whole file, record or list of steps, fields no check names included
export const MAX_EXPORT_CHARS = 50_000_000; // the whole run as compact JSON
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;

export class RunFormatError extends TypeError {
  name = "RunFormatError";
}

/** Refuse `data` unless it is a whole exported run: `{format, run, steps}`. */
export function checkExport(data) {
  if (!isObject(data)) fail("(the file)", "an exported run (an object)", data);
  if (data.format !== EXPORT_FORMAT) {
    throw new RunFormatError(`format: expected "${EXPORT_FORMAT}" (an exported wasm-agent run), got ${describe(data.format)}`);
  }
  checkRecord(data.run, "run");
  const steps = data.steps;
  if (!Array.isArray(steps)) fail("steps", "a list of steps", steps);
  if (steps.length > MAX_STEPS) throw new RunFormatError(`steps: expected at most ${MAX_STEPS} steps, got ${steps.length}`);
  steps.forEach((step, index) => checkStep(step, `steps[${index}]`));
  shallow(steps, "steps");
  shallow(data, "(the file)");
  // Last: the whole file is known to be shallow now, so measuring it cannot recurse too deep.
  if (JSON.stringify(data).length > MAX_EXPORT_CHARS) tooLarge();
}

/** Refuse the text of a run file that is too large to be one, before it is parsed. */
export function checkExportText(text) {
  if (text.length > MAX_EXPORT_CHARS) tooLarge();
}

function tooLarge() {
  throw new RunFormatError(`(the file): expected at most ${MAX_EXPORT_CHARS} characters of JSON`);
}

/** Refuse a run record with a field of the wrong type. */
export function checkRecord(record, path = "run") {
  if (!isObject(record)) fail(path, "a run record (an object)", record);
  if (typeof record.id !== "string" || !RUN_ID.test(record.id)) {
    fail(`${path}.id`, "a run id (1 to 128 letters, digits, - or _)", record.id);
  }
  optional(record, path, "title", text);
  if ("status" in record && !STATUSES.includes(record.status)) fail(`${path}.status`, `one of ${STATUSES.join(", ")}`, record.status);
  optional(record, path, "steps", count);
  optional(record, path, "created_at", time);
  optional(record, path, "updated_at", time);
  optional(record, path, "system_prompt", text);
  optional(record, path, "examples", nullable(listOf(free)));
  optional(record, path, "imported", flag);
  optional(record, path, "model_id", nullable(text));
  shallow(record, path);
}

/** Refuse a saved step (`MemoryStep.to_dict()`) whose fields have the wrong shape. */
export function checkStep(step, path) {
  if (!isObject(step)) fail(path, "a step (an object)", step);
  if (!STEP_TYPES.includes(step.type)) fail(`${path}.type`, `one of ${STEP_TYPES.join(", ")}`, step.type);
  for (const [name, check] of STEP_FIELDS[step.type]) optional(step, path, name, check);
}

// -- the checks: each takes (value, path) and throws RunFormatError -----------------------

function text(value, path) {
  if (typeof value !== "string") fail(path, "a string", value);
  if (value.length > MAX_TEXT) throw new RunFormatError(`${path}: expected at most ${MAX_TEXT} characters, got ${value.length}`);
}

function flag(value, path) {
  if (typeof value !== "boolean") fail(path, "true or false", value);
}

function time(value, path) {
  if (typeof value !== "number" || !Number.isFinite(value)) fail(path, "a finite number", value);
}

function count(value, path) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) fail(path, "a whole number ≥ 0", value);
}

// Any JSON value, nested at most MAX_DEPTH deep, with no string over MAX_TEXT (iterative: no recursion).
function free(value, path) {
  const pending = [[value, 0]];
  while (pending.length) {
    const [item, depth] = pending.pop();
    if (depth > MAX_DEPTH) throw new RunFormatError(`${path}: expected values nested at most ${MAX_DEPTH} deep`);
    if (typeof item === "string") text(item, path);
    else if (typeof item === "number" && !Number.isFinite(item)) fail(path, "JSON values (finite numbers)", item);
    else if (Array.isArray(item)) for (const child of item) pending.push([child, depth + 1]);
    else if (isObject(item)) for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
}

// Nested at most MAX_FILE_DEPTH deep, fields no check names included (they are stored too, and every later read of
// a value nested thousands deep would fail). Iterative: no recursion.
function shallow(value, path) {
  const pending = [[value, 0]];
  while (pending.length) {
    const [item, depth] = pending.pop();
    if (depth > MAX_FILE_DEPTH) throw new RunFormatError(`${path}: expected values nested at most ${MAX_FILE_DEPTH} deep`);
    if (Array.isArray(item)) for (const child of item) pending.push([child, depth + 1]);
    else if (isObject(item)) for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
}

function nullable(check) {
  return (value, path) => value !== null && check(value, path);
}

function listOf(check) {
  return (value, path) => {
    if (!Array.isArray(value)) fail(path, "a list", value);
    if (value.length > MAX_STEPS) throw new RunFormatError(`${path}: expected at most ${MAX_STEPS} items, got ${value.length}`);
    value.forEach((item, index) => check(item, `${path}[${index}]`));
  };
}

function objectOf(fields, required = []) {
  return (value, path) => {
    if (!isObject(value)) fail(path, "an object", value);
    for (const name of required) if (!(name in value)) throw new RunFormatError(`${path}.${name}: missing`);
    for (const [name, check] of fields) optional(value, path, name, check);
  };
}

function optional(data, path, name, check) {
  if (Object.hasOwn(data, name)) check(data[name], `${path}.${name}`);
}

const nullableText = nullable(text);
const nullableTime = nullable(time);
const timing = objectOf([["start_time", time], ["end_time", nullableTime], ["duration", nullableTime]]);
const usage = nullable(objectOf([["input_tokens", count], ["output_tokens", count], ["total_tokens", count]]));
const toolCall = objectOf([["name", text], ["id", text], ["arguments", free], ["observation", nullableText],
  ["timing", nullable(timing)]], ["name", "id"]);
const codeToolCall = objectOf([["name", text], ["arguments", free], ["output", free], ["json", flag]], ["name"]);
const message = objectOf([["role", text], ["content", free], ["tool_calls", nullable(listOf(free))], ["token_usage", usage],
  ["tool_call_id", nullableText], ["name", nullableText]], ["role"]);
const error = objectOf([["type", text], ["message", text]]);
const STEP_FIELDS = {
  task: [["task", text]],
  action: [["step_number", count], ["timing", timing], ["model_timing", nullable(timing)],
    ["tool_calls", nullable(listOf(toolCall))], ["native_tool_calls", flag], ["error", nullable(error)],
    ["model_output_message", nullable(message)], ["model_output", nullableText], ["code_action", nullableText],
    ["code_tool_calls", nullable(listOf(codeToolCall))], ["observations", nullableText], ["action_output", free],
    ["token_usage", usage], ["is_final_answer", flag]],
  planning: [["plan", text], ["timing", timing], ["token_usage", usage]],
  note: [["text", text]],
  final_answer: [["output", free]],
};

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(path, expected, value) {
  throw new RunFormatError(`${path}: expected ${expected}, got ${describe(value)}`);
}

/** A short, language-neutral account of a value (the same text as run_format.py's `describe`). */
export function describe(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") return Number.isInteger(value) && Math.abs(value) < 1e21 ? value.toFixed(0) : String(value);
  if (typeof value === "string") {
    const head = JSON.stringify([...value].slice(0, 40).join(""));
    return [...value].length > 40 ? `${head.slice(0, -1)}…"` : head;
  }
  return Array.isArray(value) ? "a list" : "an object";
}
