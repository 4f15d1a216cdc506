// The playground's checks of tool code as it is typed, each problem at its line:
// Python tools by the agent worker (wasm_agent/tools/source.py: the rules @tool applies),
// JS tools loaded in a throwaway worker (syntax, exports) and their specs checked by the
// same rules the agent applies to page tools.
//
//   const { tools, problems } = await checkPython(source);       // problems: [{line, message, severity}]
//   const { tools, problems } = await checkJavaScript(source, { errorLine });

import { checkPythonTools, checkToolSpecs } from "../wasm-agent.js";

const LOAD_LIMIT_MS = 3000;

/** @typedef {{line: number, message: string, severity: "error"|"warning"}} Problem */

/** @returns {Promise<{tools: string[], problems: Problem[]}>} */
export async function checkPython(source) {
  if (!source.trim()) return { tools: [], problems: [] };
  return checkPythonTools(source);
}

/**
 * @param {string} source  an ES module exporting its tools
 * @param {{errorLine?: (text: string) => number | null}} [options]  where a syntax error is (the editor's parser)
 * @returns {Promise<{tools: string[], problems: Problem[]}>}
 */
export async function checkJavaScript(source, { errorLine } = {}) {
  if (!source.trim()) return { tools: [], problems: [] };
  const loaded = await loadInWorker(source);
  if (loaded.error) {
    const { name, message } = loaded.error;
    const line = (name === "SyntaxError" && errorLine?.(source)) || lineOf(source, /^\s*export\b/m) || 1;
    const hint = name === "ReferenceError" ? " (tools are checked away from the page: use the page's globals "
      + "such as document inside fn only)" : "";
    return { tools: [], problems: [problem(line, `${name}: ${message}${hint}`)] };
  }
  const problems = [];
  const verdicts = await checkToolSpecs(loaded.tools.map((tool) => (tool.notAnObject ? {} : tool)));
  loaded.tools.forEach((tool, index) => {
    const line = (typeof tool.name === "string" && lineOf(source, new RegExp(`name\\s*:\\s*["'\`]${escape(tool.name)}["'\`]`)))
      || lineOf(source, /^\s*export\b/m) || 1;
    const label = typeof tool.name === "string" ? `tool ${JSON.stringify(tool.name)}` : `tool ${index + 1}`;
    if (tool.notAnObject) problems.push(problem(line, `${label}: ${tool.notAnObject} is not a tool object`));
    else if (verdicts[index]) problems.push(problem(line, verdicts[index]));
    else if (tool.fn !== "function") problems.push(problem(line, `${label}: fn must be a function (it is ${tool.fn})`));
  });
  const names = loaded.tools.map((tool) => tool.name).filter((name) => typeof name === "string");
  if (!loaded.tools.length) problems.push(problem(lineOf(source, /^\s*export\b/m) || 1, "no tool yet: export an array of tools", "warning"));
  return { tools: problems.some((p) => p.severity === "error") ? [] : names, problems };
}

/** Import the module in a worker of its own, ended after LOAD_LIMIT_MS. */
function loadInWorker(source) {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(new URL("./js-tools-check.worker.js", import.meta.url), { type: "module", name: "js-tools-check" });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ error: { name: "TimeoutError",
      message: `loading the module took more than ${LOAD_LIMIT_MS / 1000} s (a loop at its top level?)` } }), LOAD_LIMIT_MS);
    worker.onmessage = ({ data }) => {
      clearTimeout(timer);
      resolve(data);
    };
    worker.onerror = (event) => {
      clearTimeout(timer);
      event.preventDefault();
      resolve({ error: { name: "Error", message: event.message || "the module could not be loaded" } });
    };
    worker.postMessage({ url });
  }).finally(() => {
    worker.terminate();
    URL.revokeObjectURL(url);
  });
}

function problem(line, message, severity = "error") {
  return { line, message, severity };
}

function lineOf(text, pattern) {
  const match = pattern.exec(text);
  return match ? text.slice(0, match.index + match[0].search(/\S/)).split("\n").length : null;
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
