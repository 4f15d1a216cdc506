// A playground project: one agent (its site text, agent definition and model
// defaults) as plain JSON, the same in IndexedDB, in an exported file and in a
// shared link. Its `agent` part is the JSON form of agent.toml's [agent] table
// (build/config.py), with the tool files' sources inline; wasm_agent/site_config.py makes the
// site.json a built page reads from it (publish.js). A project never holds a key.
//
//   const project = newProject({ name: "Dice helper" });
//   const checked = checkProject(JSON.parse(text));   // throws ProjectError naming the field
//
// Format (version 1):
//   {"format": "wasm-agent-project", "version": 1, "id": "<uuid>", "name": "...", "updated": <ms epoch>,
//    "site": {"title", "intro", "examples": [{"label", "task"}]},
//    "agent": {"type": "code"|"toolcalling", "instructions", "max_steps", "planning_interval": null|int,
//              "authorized_imports": [...], "mcp_servers": [url...], "python_tools": "<module source>",
//              "js_tools": "<ES module source>"},
//    "model": {"provider", "model", "base_url"}}

export const PROJECT_FORMAT = "wasm-agent-project";
export const PROJECT_VERSION = 1;
export const AGENT_TYPES = ["code", "toolcalling"];
export const MAX_STEPS_LIMIT = 100; // as agent.toml's max_steps (build/config.py)
// Names a key would have: a project is exported and shared, so a key in it would be everybody's.
const KEY_WORDS = /(^|_)(api_?key|key|secret|token|password)$/i;
const CAMEL_KEY_WORDS = /(apiKey|Key|Secret|Token|Password)$/;

/** A project file or object that is not in the format; `field` is where (e.g. "agent.max_steps"). */
export class ProjectError extends Error {
  name = "ProjectError";
  constructor(field, problem) {
    super(field ? `${field}: ${problem}` : problem);
    this.field = field;
  }
}

/**
 * @typedef {object} Project
 * @property {"wasm-agent-project"} format
 * @property {1} version
 * @property {string} id            a UUID; a copy gets a new one
 * @property {string} name
 * @property {number} updated       milliseconds since the epoch
 * @property {{title: string, intro: string, examples: {label: string, task: string}[]}} site
 * @property {{type: "code"|"toolcalling", instructions: string, max_steps: number|null,
 *   planning_interval: number|null, authorized_imports: string[], mcp_servers: string[],
 *   python_tools: string, js_tools: string}} agent
 * @property {{provider: string, model: string, base_url: string}} model
 */

const DEFAULT_AGENT = { type: "code", instructions: "", max_steps: 8, planning_interval: null,
  authorized_imports: [], mcp_servers: [], python_tools: "", js_tools: "" };
const DEFAULT_MODEL = { provider: "", model: "", base_url: "" };

// Every field of the format: its kind, checked in this order by checkProject.
const SCHEMA = {
  "": { format: "format", version: "version", id: "id", name: "name", updated: "time",
    site: "object", agent: "object", model: "object" },
  site: { title: "string", intro: "string", examples: "examples" },
  agent: { type: "agentType", instructions: "string", max_steps: "steps", planning_interval: "interval",
    authorized_imports: "names", mcp_servers: "urls", python_tools: "string", js_tools: "string" },
  model: { provider: "string", model: "string", base_url: "url" },
};

/** A random UUID (crypto.randomUUID needs a secure context; a site served on plain http has none). */
export function newId() {
  if (globalThis.crypto.randomUUID) return globalThis.crypto.randomUUID();
  const hex = [...crypto.getRandomValues(new Uint8Array(16))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new project with the defaults, `fields` (any part of the format, nested parts merged) laid over them. */
export function newProject(fields = {}) {
  return checkProject({
    format: PROJECT_FORMAT, version: PROJECT_VERSION, id: fields.id ?? newId(), name: fields.name ?? "Untitled agent",
    updated: fields.updated ?? Date.now(),
    site: { title: "", intro: "", examples: [], ...fields.site },
    agent: { ...DEFAULT_AGENT, ...fields.agent },
    model: { ...DEFAULT_MODEL, ...fields.model },
  });
}

/** A copy under a new id and name (default "<name> (copy)"), updated now. */
export function copyProject(project, name = `${project.name} (copy)`) {
  return checkProject({ ...structuredClone(project), id: newId(), name, updated: Date.now() });
}

/**
 * `data` checked field by field and returned as a Project (fields left out take their defaults, a string
 * example becomes {label: "", task}); throws ProjectError naming the first wrong field.
 * @param {unknown} data  e.g. JSON.parse of an exported file
 * @param {{providers?: string[]}} [options]  provider names to accept (providers.json), when known
 * @returns {Project}
 */
export function checkProject(data, { providers } = {}) {
  if (!isObject(data)) throw new ProjectError("", `a project is a JSON object, not ${describe(data)}`);
  const project = {};
  for (const [part, fields] of Object.entries(SCHEMA)) {
    const source = part ? data[part] ?? {} : data;
    if (part && !isObject(source)) throw new ProjectError(part, `must be an object, not ${describe(source)}`);
    for (const key of Object.keys(source)) {
      const field = part ? `${part}.${key}` : key;
      if (KEY_WORDS.test(key) || CAMEL_KEY_WORDS.test(key)) {
        throw new ProjectError(field, "a project never holds a key: it is exported and shared, so the key "
          + "would be everybody's. Enter it in Model settings instead.");
      }
      if (!(key in fields)) throw new ProjectError(field, `unknown field (known here: ${Object.keys(fields).join(", ")})`);
    }
    const checked = {};
    for (const [key, kind] of Object.entries(fields)) {
      const field = part ? `${part}.${key}` : key;
      const fallback = part === "agent" ? DEFAULT_AGENT[key] : part === "model" ? DEFAULT_MODEL[key]
        : part === "site" ? (key === "examples" ? [] : "") : undefined;
      const value = source[key] === undefined ? fallback : source[key];
      checked[key] = kind === "object" ? value : CHECKS[kind](value, field);
    }
    if (part) project[part] = checked;
    else Object.assign(project, checked);
  }
  if (providers && project.model.provider && !providers.includes(project.model.provider)) {
    throw new ProjectError("model.provider", `${JSON.stringify(project.model.provider)} is not a provider; `
      + `known: ${providers.join(", ")}`);
  }
  return project;
}

const CHECKS = {
  format(value, field) {
    if (value !== PROJECT_FORMAT) throw new ProjectError(field, `must be "${PROJECT_FORMAT}": this is not a wasm-agent project`);
    return value;
  },
  version(value, field) {
    if (value !== PROJECT_VERSION) {
      throw new ProjectError(field, `${describe(value)} is not a version this page reads (it reads ${PROJECT_VERSION})`);
    }
    return value;
  },
  id(value, field) {
    if (typeof value !== "string" || !/^[\w-]{1,100}$/.test(value)) throw new ProjectError(field, `must be an id (letters, digits, - and _), not ${describe(value)}`);
    return value;
  },
  name(value, field) {
    const name = CHECKS.string(value, field).trim();
    if (!name) throw new ProjectError(field, "must not be empty");
    if (name.length > 200) throw new ProjectError(field, "must be at most 200 characters");
    return name;
  },
  time(value, field) {
    if (!Number.isFinite(value) || value < 0) throw new ProjectError(field, `must be a time in milliseconds since 1970, not ${describe(value)}`);
    return value;
  },
  string(value, field) {
    if (typeof value !== "string") throw new ProjectError(field, `must be a string, not ${describe(value)}`);
    return value;
  },
  agentType(value, field) {
    if (!AGENT_TYPES.includes(value)) throw new ProjectError(field, `${describe(value)} is not one of ${AGENT_TYPES.join(", ")}`);
    return value;
  },
  steps(value, field) {
    if (value === null) return null; // the agent's default
    if (!Number.isInteger(value) || value < 1 || value > MAX_STEPS_LIMIT) {
      throw new ProjectError(field, `must be a whole number between 1 and ${MAX_STEPS_LIMIT}, not ${describe(value)}`);
    }
    return value;
  },
  interval(value, field) {
    if (value === null) return null; // no planning step
    if (!Number.isInteger(value) || value < 1 || value > MAX_STEPS_LIMIT) {
      throw new ProjectError(field, `must be null (no planning) or a whole number of steps, not ${describe(value)}`);
    }
    return value;
  },
  names(value, field) {
    if (!Array.isArray(value)) throw new ProjectError(field, `must be a list of module names, not ${describe(value)}`);
    value.forEach((item, index) => {
      if (typeof item !== "string" || !/^(\*|[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\.\*)?)$/.test(item)) {
        throw new ProjectError(`${field}[${index}]`, `${describe(item)} is not a module name (like "numpy" or "os.path")`);
      }
    });
    return [...value];
  },
  urls(value, field) {
    if (!Array.isArray(value)) throw new ProjectError(field, `must be a list of URLs, not ${describe(value)}`);
    value.forEach((item, index) => CHECKS.url(item, `${field}[${index}]`, { required: true }));
    return [...value];
  },
  url(value, field, { required = false } = {}) {
    CHECKS.string(value, field);
    if (!value && !required) return value; // the provider's default
    let url = null;
    try {
      url = new URL(value);
    } catch { /* reported below */ }
    if (!url || !["http:", "https:"].includes(url.protocol)) throw new ProjectError(field, `${describe(value)} is not an http(s) URL`);
    return value;
  },
  examples(value, field) {
    if (!Array.isArray(value)) throw new ProjectError(field, `must be a list of examples, not ${describe(value)}`);
    return value.map((item, index) => {
      if (typeof item === "string") return { label: "", task: item };
      const where = `${field}[${index}]`;
      if (!isObject(item) || typeof item.task !== "string" || !Object.keys(item).every((key) => key === "label" || key === "task")
        || (item.label !== undefined && typeof item.label !== "string")) {
        throw new ProjectError(where, `must be a task string or {"label": "…", "task": "…"}, not ${describe(item)}`);
      }
      return { label: item.label ?? "", task: item.task };
    });
  },
};

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}
