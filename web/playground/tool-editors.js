// The playground's two tool editors (Python, JS): CodeMirror from the site's bundle
// (playground/codemirror.js), or plain text boxes when the build has none; each
// checked a moment after typing stops, its problems marked at their lines and
// listed below it for screen readers.

import { checkJavaScript, checkPython } from "./tool-checks.js";

const PAUSE_MS = 400;

let codemirror = null; // Promise of the bundle's module, or of null

/** The bundle, when the build made one (build.json lists it: no request for a file that is not there). */
function loadCodeMirror() {
  codemirror ??= fetch(new URL("../build.json", import.meta.url)).then((response) => response.json())
    .then((manifest) => ("playground/codemirror.js" in (manifest.files ?? {}) ? import("./codemirror.js") : null))
    .catch(() => null);
  return codemirror;
}

/**
 * @param {object} options
 * @param {HTMLElement} options.parent   where the editor goes
 * @param {HTMLElement} options.report   the live region that lists the problems
 * @param {"python"|"javascript"} options.language
 * @param {string} options.label
 * @param {string} options.describedBy
 * @param {(text: string) => void} options.onChange
 */
export async function createToolEditor({ parent, report, language, label, describedBy, onChange }) {
  const bundle = await loadCodeMirror();
  let checkTimer = null;
  let checks = 0; // a newer check makes an older one's answer stale
  let loading = false; // text set by load(): not an edit
  const changed = (text) => {
    if (loading) return;
    onChange(text);
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, PAUSE_MS);
  };
  const editor = bundle
    ? bundle.createCodeEditor(parent, { language, label, describedBy, onChange: changed })
    : plainEditor(parent, { label, describedBy, onChange: changed });

  async function check() {
    const number = ++checks;
    const text = editor.value;
    report.dataset.state = "checking";
    let result;
    try {
      result = language === "python" ? await checkPython(text)
        : await checkJavaScript(text, { errorLine: bundle?.firstJavaScriptErrorLine });
    } catch (error) {
      result = { tools: [], problems: [{ line: 1, message: `the check failed: ${error.message}`, severity: "warning" }] };
    }
    if (number !== checks) return;
    editor.showProblems(result.problems);
    showReport(report, text, result);
  }

  return {
    /** Replace the text (another project opened) and check it. */
    load(text) {
      clearTimeout(checkTimer);
      if (editor.value !== text) {
        loading = true;
        editor.value = text;
        loading = false;
      }
      return check();
    },
    get value() { return editor.value; },
  };
}

function showReport(report, text, { tools, problems }) {
  const errors = problems.filter((problem) => problem.severity === "error").length;
  const summary = document.createElement("p");
  summary.className = "pg-check-summary";
  summary.textContent = !text.trim() ? "No tools here."
    : errors ? `${errors} problem${errors > 1 ? "s" : ""} to fix.`
      : `Tools: ${tools.join(", ") || "none"}.`;
  const list = document.createElement("ul");
  list.className = "pg-problems";
  for (const { line, message, severity } of problems) {
    const item = document.createElement("li");
    item.className = `pg-problem pg-problem-${severity}`;
    item.textContent = `Line ${line}: ${message}`;
    list.append(item);
  }
  report.replaceChildren(summary, ...(problems.length ? [list] : []));
  report.dataset.state = errors ? "error" : "ok";
}

/** A text box with the code editor's interface, for a build without the CodeMirror bundle. */
function plainEditor(parent, { label, describedBy, onChange }) {
  const area = document.createElement("textarea");
  area.className = "pg-plain-editor";
  area.spellcheck = false;
  area.rows = 14;
  area.setAttribute("aria-label", label);
  if (describedBy) area.setAttribute("aria-describedby", describedBy);
  const editor = {
    get value() { return area.value; },
    set value(text) { area.value = text; },
    showProblems() {}, // listed below the box
  };
  area.addEventListener("input", () => onChange(area.value));
  parent.append(area);
  return editor;
}
