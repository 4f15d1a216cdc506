// "Run" in the playground: a task tried with a project's current definition (a fresh agent each
// time, closed after), its steps shown as in the chat, and each run kept with its outcome, steps,
// tokens and definition version, so that two versions of a project can be compared.

import { ChatView } from "../chat-view.js";
import { createAgent } from "../wasm-agent.js";
import { definitionVersion } from "./project-store.js";

/** A project's JS tools: its module, imported in this page (where JS tools run). */
export async function importJsTools(source) {
  if (!source.trim()) return [];
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  try {
    const module = await import(url);
    const tools = module.default ?? module.tools;
    if (!Array.isArray(tools)) throw new Error("the JS tools module exports no array of tools (export default [...])");
    return tools;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** createAgent's options for a project; `pageModel` (Model settings) fills what the project leaves empty. */
export function agentOptions(project, pageModel, jsTools) {
  const { agent, model } = project;
  const chosen = model.provider
    ? { provider: model.provider, model: model.model, baseUrl: model.base_url || undefined }
    : { provider: pageModel.provider, model: pageModel.model, baseUrl: pageModel.baseUrl || undefined,
      modelUrl: pageModel.modelUrl || undefined };
  return {
    model: { ...chosen, apiKey: pageModel.apiKey || undefined, keySource: "the API key in Model settings" },
    agentType: agent.type, maxSteps: agent.max_steps ?? undefined, planningInterval: agent.planning_interval ?? undefined,
    instructions: agent.instructions || undefined, tools: jsTools,
    pythonTools: agent.python_tools.trim() ? [agent.python_tools] : [],
    additionalAuthorizedImports: agent.authorized_imports, mcpServers: agent.mcp_servers.map((url) => ({ url })),
  };
}

/**
 * @param {object} options
 * @param {HTMLElement} options.root   the playground panel
 * @param {() => Promise<import("./project-store.js").ProjectStore>} options.store
 * @param {() => Promise<import("./project.js").Project>} options.project   the definition as it is now, saved
 *   (rejects with a ProjectError when a field is wrong)
 * @param {() => object} options.pageModel   Model settings: {provider, model, baseUrl, modelUrl, apiKey}
 * @param {(question: string) => Promise<string>} [options.onUserInput]
 */
export function mountProjectRuns({ root, store, project, pageModel, onUserInput }) {
  const $ = (selector) => root.querySelector(selector);
  const view = new ChatView($("#pg-log"));
  let agent = null;
  let stopRequested = false;

  async function run(task) {
    let current;
    try {
      current = await project();
    } catch (error) { // a wrong field in the form: nothing runs
      $("#pg-log").replaceChildren();
      view.showError(`Not run: ${error.message}`);
      return;
    }
    const started = Date.now();
    const version = definitionVersion(current);
    stopRequested = false;
    $("#pg-run").disabled = true;
    $("#pg-stop").disabled = false;
    $("#pg-log").replaceChildren();
    view.addTask(task);
    let result = null;
    try {
      const tools = await importJsTools(current.agent.js_tools);
      agent = await createAgent({ ...agentOptions(current, pageModel(), tools), onUserInput });
      if (!stopRequested) {
        for await (const event of agent.stream(task)) {
          view.handle(event);
          if (event.type === "result") result = event;
        }
      }
    } catch (error) {
      view.showError(error.message);
      result = { state: "error", error: { message: error.message }, steps: 0 };
    } finally {
      view.endTurn();
      const closing = agent;
      agent = null;
      await closing?.close();
      $("#pg-run").disabled = false;
      $("#pg-stop").disabled = true;
    }
    result ??= { state: "interrupted", steps: 0 };
    const db = await store();
    await db.addRun({ projectId: current.id, at: started, task, state: result.state, steps: result.steps ?? 0,
      inputTokens: result.tokenUsage?.inputTokens ?? 0, outputTokens: result.tokenUsage?.outputTokens ?? 0,
      duration: (Date.now() - started) / 1000, output: describeOutcome(result), version });
    await show(current.id);
  }

  async function show(projectId) {
    const runs = await (await store()).runsOf(projectId);
    $("#pg-runs tbody").replaceChildren(...runs.map(runRow));
    $("#pg-runs").hidden = runs.length === 0;
    $("#pg-runs-empty").hidden = runs.length > 0;
  }

  $("#pg-run-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const task = $("#pg-task").value.trim();
    if (task && !$("#pg-run").disabled) run(task);
  });
  $("#pg-task").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("#pg-run-form").requestSubmit();
  });
  $("#pg-stop").addEventListener("click", () => {
    stopRequested = true;
    $("#pg-stop").disabled = true;
    agent?.interrupt();
  });
  return { show, clearLog: () => $("#pg-log").replaceChildren() };
}

function describeOutcome(result) {
  if (result.state === "success") return shorten(typeof result.output === "string" ? result.output : JSON.stringify(result.output));
  return shorten(result.error?.message ?? "");
}

const OUTCOMES = { success: "Answered", max_steps_error: "Step limit", error: "Error", interrupted: "Stopped" };

function runRow(run) {
  const row = document.createElement("tr");
  row.className = `pg-run pg-run-${run.state}`;
  const cells = [
    new Date(run.at).toLocaleString("en", { dateStyle: "short", timeStyle: "medium" }),
    run.task,
    `${OUTCOMES[run.state] ?? run.state}${run.output ? `: ${run.output}` : ""}`,
    String(run.steps),
    `${run.inputTokens} / ${run.outputTokens}`,
    `${run.duration.toFixed(1)} s`,
    run.version,
  ];
  for (const text of cells) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  row.cells[2].className = "pg-run-outcome";
  return row;
}

function shorten(text, limit = 160) {
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}
