// The site's page: settings, loading progress, example tasks and the chat.
// The agent itself is the JS API (wasm-agent.js); this file only wires the UI.

import { ChatView } from "./chat-view.js";
import { createAgent, enableOffline, startRuntime } from "./wasm-agent.js";
import { mountRunHistory } from "./history.js";
import { mountMcpSettings } from "./mcp-settings.js";
import { mountPlayground } from "./playground/playground.js";
import { UserQuestions } from "./user-question.js";

const $ = (selector) => document.querySelector(selector);

// The provider registry (wasm_agent/providers.json, copied into the site by the build), and the
// site's agent when it was built with `--config agent.toml` (site.json; docs/site.md).
const [PROVIDERS, SITE] = await Promise.all([
  fetch("providers.json").then((response) => response.json()),
  fetch("site.json").then((response) => response.json()), // null: the demo site (no --config)
]);
// Sites on one origin under different paths keep their settings apart.
const STORE_PREFIX = SITE && SITE.basePath !== "/" ? `${SITE.basePath}:` : "";
const SETTINGS_KEY = `${STORE_PREFIX}wasm-agent:settings`;
const KEY_KEY = `${STORE_PREFIX}wasm-agent:api-key`;
const THEME_KEY = "wasm-agent:theme";

// What the site's own small model can do, said plainly where the visitor chooses and starts.
const SMALL_MODEL_NOTE = "The in-browser model is tiny (135M parameters, runs on your device, no key): it manages "
  + "one-step tasks such as arithmetic, a percentage, reversing a word or sorting a short list, and says so when "
  + "it cannot. For real work choose a provider or a bigger model in Model settings.";

/** JS tools: they run here, in the page; the model's code calls them like Python functions. */
const JS_TOOLS = [{
  name: "current_time",
  description: "The current date and time in the user's browser: ISO timestamp, time zone and weekday.",
  inputs: {},
  outputType: "object",
  fn: () => {
    const now = new Date();
    return { iso: now.toISOString(), timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      weekday: now.toLocaleDateString("en", { weekday: "long" }), local: now.toLocaleString("en") };
  },
}];

// Simple one-step tasks for the in-browser model; the others for a provider's model.
const SMALL_EXAMPLES = [
  { kind: "Arithmetic", task: "What is 17 times 23?" },
  { kind: "Text", task: "Reverse the word 'agent'." },
  { kind: "List", task: "Sort the numbers 9, 2, 7, 4 from smallest to largest." },
  { kind: "Percent", task: "What is 20% of 150?" },
];

const EXAMPLES = [
  { kind: "Code", task: "What is the sum of all prime numbers below 1000? Compute it with a sieve." },
  { kind: "JS tool", task: "What day of the week is it for me, and how many days are left until the end of the year?" },
  { kind: "Python tool", task: "Describe these measurements: 12.1, 11.8, 12.6, 13.0, 11.9, 12.4, 30.2. Is one of them an outlier?" },
  { kind: "Code", task: "Find the longest Collatz sequence that starts below 10,000 and show its length." },
];

const state = {
  settings: loadSettings(),
  apiKey: localStorage.getItem(KEY_KEY) ?? "",
  agent: null,
  running: false,
  runtimeInfo: null,
  pythonTools: [],
  modelFile: null, // a GGUF picked in Model settings, for this page only
};
const view = new ChatView($("#log"));
const questions = new UserQuestions(() => view.steps ?? $("#log")); // the agent's user_input(...) asks here
mountRunHistory({
  button: $("#open-history"),
  rpc: () => startRuntime().then(({ rpc }) => rpc),
  onResume: (runId, run, { replay } = {}) => runTask(`Resume “${run.title}”`, { resume: { runId, replay } }),
});

// The agent playground (its own panel); runs there use Model settings' key and, unless the project names one, model.
// A configured site's start screen is its owner's: no starter templates there.
$("#templates").hidden = $(".templates-title").hidden = Boolean(SITE);
const playground = mountPlayground({ root: $("#playground"), openButton: $("#open-playground"), templateList: SITE ? null : $("#templates"),
  providers: PROVIDERS, pageModel: () => ({ ...state.settings, apiKey: state.apiKey }),
  onToggle: (open) => { $(".layout").hidden = open; $(".composer").hidden = open; } });

// -- theme ---------------------------------------------------------------------------
function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem(THEME_KEY));
$("#theme-toggle").addEventListener("click", () => {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  const next = dark ? "light" : "dark";
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
});

// -- settings ---------------------------------------------------------------------------
function loadSettings() {
  // A configured site opens on its agent (site.json); what the visitor saved wins.
  const defaults = { provider: SITE?.model.provider ?? "openai", baseUrl: SITE?.model.baseUrl ?? "",
    model: SITE?.model.model ?? "", agentType: SITE?.agent.type ?? "code", maxSteps: SITE?.agent.maxSteps ?? "" }; // "": the model's default
  try {
    return { ...defaults, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? "{}") };
  } catch {
    return defaults;
  }
}

function configured() {
  const { provider, model } = state.settings;
  return provider === "browser" || Boolean(model);
}

const dialog = $("#settings");
const form = $("#settings-form");

function showProviderFields(provider) {
  for (const field of form.querySelectorAll("[data-for]")) field.hidden = !field.dataset.for.split(" ").includes(provider);
  const info = PROVIDERS[provider];
  $("#provider-help").textContent = provider === "browser" ? `${info.help} ${SMALL_MODEL_NOTE}` : info.help;
  $("#base-url").placeholder = info.baseUrl ?? "";
  $("#model").placeholder = info.exampleModel ?? "";
}

// -- the in-browser model's menu: the bundled model, or a known GGUF downloaded when chosen --
const megabytes = (bytes) => `${Math.round(bytes / 1e6).toLocaleString("en")} MB`;
let knownModels = [];
import("./browser-model.js").then(({ KNOWN_MODELS }) => {
  knownModels = KNOWN_MODELS;
  const choice = $("#model-choice");
  choice.append(new Option("SmolLM2-135M Instruct: bundled with this site, 98 MB, Apache-2.0", ""));
  for (const model of KNOWN_MODELS) {
    choice.append(new Option(`${model.name}: download ${megabytes(model.bytes)}, ${model.licence}`, model.url));
  }
}).catch(() => {});

function describeModelChoice() {
  const known = knownModels.find((model) => model.url === $("#model-choice").value);
  $("#model-choice-help").textContent = known
    ? `${known.can}. Downloaded from ${new URL(known.url).host} on the first run, then kept in this browser.`
    : "One-step tasks (arithmetic, a percentage, a word, a short list); no download, no key.";
}

async function showDownloadedModels() {
  const status = $("#delete-models-status");
  const cached = await import("./browser-model.js").then((module) => module.cachedModels()).catch(() => []);
  const bytes = cached.reduce((sum, model) => sum + Math.max(0, model.bytes), 0);
  $("#delete-models").disabled = cached.length === 0;
  status.textContent = cached.length
    ? `${cached.length} model${cached.length > 1 ? "s" : ""} kept in this browser: ${megabytes(bytes)}.`
    : "No model is kept in this browser.";
  return bytes;
}

$("#model-choice").addEventListener("change", () => {
  form.modelUrl.value = $("#model-choice").value;
  describeModelChoice();
});
$("#delete-models").addEventListener("click", async () => {
  const freed = await showDownloadedModels();
  await resetAgent(); // the worker's model lets go of its files
  await import("./browser-model.js").then((module) => module.clearCachedModels());
  await showDownloadedModels();
  $("#delete-models-status").textContent += ` Deleted: ${megabytes(freed)} freed.`;
});

function openSettings() {
  const { settings } = state;
  form.provider.value = settings.provider;
  form.baseUrl.value = settings.baseUrl;
  form.model.value = settings.model;
  form.modelUrl.value = settings.modelUrl ?? "";
  $("#model-choice").value = knownModels.some((model) => model.url === settings.modelUrl) ? settings.modelUrl : "";
  describeModelChoice();
  showDownloadedModels();
  form.apiKey.value = state.apiKey;
  form.remember.checked = Boolean(localStorage.getItem(KEY_KEY));
  $("#remember-warning").hidden = !form.remember.checked;
  form.agentType.value = settings.agentType;
  form.maxSteps.value = settings.maxSteps;
  showProviderFields(settings.provider);
  dialog.showModal();
  // The dialog would focus its first control (the first radio): the chosen provider is where to start.
  form.querySelector("input[name=provider]:checked")?.focus();
}

$("#open-settings").addEventListener("click", openSettings);
$("#cancel-settings").addEventListener("click", () => dialog.close());
form.addEventListener("change", (event) => {
  if (event.target.name === "provider") showProviderFields(event.target.value);
  if (event.target.name === "remember") $("#remember-warning").hidden = !event.target.checked;
});
$("#forget").addEventListener("click", () => {
  localStorage.removeItem(KEY_KEY);
  form.apiKey.value = "";
  form.remember.checked = false;
  $("#remember-warning").hidden = true;
});
form.addEventListener("submit", () => {
  state.settings = { provider: form.provider.value, baseUrl: form.baseUrl.value.trim(), model: form.model.value.trim(),
    modelUrl: form.modelUrl.value.trim(),
    agentType: form.agentType.value, maxSteps: Number(form.maxSteps.value) > 0 ? Number(form.maxSteps.value) : "" };
  state.apiKey = form.apiKey.value.trim();
  // A picked file lives for this page only (a File cannot be saved); the browser keeps its weights cached.
  state.modelFile = form.modelFile.files[0] ?? state.modelFile ?? null;
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(state.settings)); // never the key, unless asked below
  if (form.remember.checked && state.apiKey) localStorage.setItem(KEY_KEY, state.apiKey);
  else localStorage.removeItem(KEY_KEY);
  resetAgent();
  updateHint();
  showExamples();
});

const mcp = mountMcpSettings({ root: $("#mcp-settings"), storageKey: `${STORE_PREFIX}wasm-agent:mcp-servers`,
  onChange: () => resetAgent() });

async function resetAgent() {
  const agent = state.agent;
  state.agent = null;
  if (agent) await (await agent).close();
}

// -- runtime and progress -------------------------------------------------------------------
const pill = $("#runtime-status");
function setStatus(text, kind) {
  pill.textContent = text;
  pill.className = `pill pill-${kind}`;
}

function showProgress(progress) {
  if (progress.stage === "ready") { // the runtime, or later the in-browser model, is ready
    $("#progress").hidden = true;
    if (state.running) setStatus("Agent working…", "loading"); // the model loaded for the run under way
    else if (state.readyText) setStatus(state.readyText, "ready");
    return;
  }
  $("#progress").hidden = false;
  const bar = $("#progress-bar");
  if (progress.total) {
    bar.classList.remove("indeterminate");
    bar.style.width = `${Math.round((100 * progress.loaded) / progress.total)}%`;
    $("#progress-text").textContent = `${progress.message}: ${(progress.loaded / 1e6).toFixed(1)} / ${(progress.total / 1e6).toFixed(1)} MB`;
  } else {
    bar.classList.add("indeterminate");
    $("#progress-text").textContent = progress.message;
  }
  setStatus(progress.message, "loading");
}

async function boot() {
  await enableOffline({ onProgress: showProgress }).catch(() => false);
  const [{ info }, tools] = await Promise.all([
    startRuntime({ onProgress: showProgress }),
    Promise.all((SITE ? SITE.pythonTools : ["demo_tools.py"]).map((url) => fetch(url).then((response) => response.text()))),
  ]);
  state.pythonTools = tools;
  state.runtimeInfo = info;
  $("#progress").hidden = true;
  const readyMs = performance.now(); // since navigation started
  window.wasmAgentReadyMs = readyMs; // read by the tests and build/measure_site.py
  if (info.sandbox) {
    const mode = info.sandbox.bridge === "atomics" ? "isolated" : "JSPI";
    state.readyText = `Agent ready · ${(readyMs / 1000).toFixed(1)} s · ${mode}`;
    setStatus(state.readyText, "ready");
  } else {
    setStatus("Code execution unavailable", "error");
    showNotice(`Code execution is unavailable: the sandbox did not start (${info.sandboxProblem}). `
      + "Generated code never runs outside the sandbox; the tool-calling agent still works.");
  }
  document.body.dataset.ready = "true";
}

function showNotice(text) {
  const notice = $("#model-notice");
  notice.textContent = text;
  notice.hidden = false;
}

// -- runs ------------------------------------------------------------------------------------
function updateHint() {
  const { provider, model } = state.settings;
  $("#composer-hint").textContent = configured()
    ? `${PROVIDERS[provider].label}${model ? ` · ${model}` : ""} · ${state.settings.agentType === "code" ? "code agent" : "tool-calling agent"}`
    : "Choose a model in Model settings to start.";
}

function getAgent() {
  const { provider, baseUrl, model, modelUrl, agentType, maxSteps } = state.settings;
  const local = provider === "browser" ? { modelUrl: modelUrl || undefined, file: state.modelFile ?? undefined } : {};
  state.agent ??= jsTools.then((tools) => createAgent({
    model: { provider, model, baseUrl: baseUrl || undefined, apiKey: state.apiKey || undefined,
      keySource: "the API key in Model settings", ...local },
    agentType, maxSteps: maxSteps || undefined, tools, pythonTools: state.pythonTools,
    instructions: SITE?.agent.instructions ?? undefined,
    planningInterval: SITE?.agent.planningInterval ?? undefined,
    additionalAuthorizedImports: SITE?.agent.authorizedImports ?? [],
    mcpServers: [...(SITE?.agent.mcpServers ?? []), ...mcp.servers()],
    // user_input(...) for the model; not for the small in-browser model, whose prompt must stay short
    onUserInput: provider === "browser" ? undefined : (question) => questions.ask(question),
  }));
  state.agent.catch(() => { state.agent = null; });
  return state.agent;
}

async function runTask(task, { resume = null } = {}) {
  if (state.running) return;
  if (!configured()) {
    openSettings();
    return;
  }
  state.running = true;
  state.stopRequested = false;
  setStatus("Agent working…", "loading");
  $("#welcome").hidden = true;
  $("#run").disabled = true;
  $("#stop").disabled = false;
  view.addTask(task);
  try {
    const started = performance.now();
    const agent = await getAgent();
    if (state.stopRequested) { // Stop while the agent (or its model) was loading: the run does not start
      view.handle({ type: "result", state: "interrupted", steps: 0, duration: (performance.now() - started) / 1000 });
      return;
    }
    for await (const event of agent.stream(resume ? null : task, { resume })) view.handle(event);
  } catch (error) {
    view.showError(error.message);
  } finally {
    view.endTurn();
    state.running = false;
    if (state.readyText) setStatus(state.readyText, "ready");
    $("#run").disabled = false;
    $("#stop").disabled = true;
    $("#task").focus();
  }
}

$("#task-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const task = $("#task").value.trim();
  if (!task) return;
  $("#task").value = "";
  runTask(task);
});
$("#task").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("#task-form").requestSubmit();
});
$("#stop").addEventListener("click", async () => {
  $("#stop").disabled = true;
  state.stopRequested = true;
  questions.cancel();
  await (await state.agent)?.interrupt();
});

// A configured site: its title, intro, examples and JS tools (an ES module: `export default [...]`).
const jsTools = !SITE ? Promise.resolve(JS_TOOLS) : !SITE.jsTools ? Promise.resolve([])
  : import(new URL(SITE.jsTools, import.meta.url).href).then((module) => {
    const tools = module.default ?? module.tools;
    if (!Array.isArray(tools)) throw new Error("it exports no array of tools (export default [...])");
    return tools;
  }).catch((error) => {
    showNotice(`The site's JS tools (${SITE.jsTools}) could not be loaded: ${error.message}`);
    return [];
  });
if (SITE?.title) {
  document.title = SITE.title;
  $(".brand-name").textContent = SITE.title;
  $(".brand-tag").textContent = "";
  $("#welcome h1").textContent = SITE.title;
}
if (SITE?.intro) $("#welcome p").textContent = SITE.intro;
const examples = SITE ? SITE.examples.map(({ label, task }) => ({ kind: label, task })) : EXAMPLES;
$(".examples-title").hidden = examples.length === 0;

// The provider choices of Model settings, from the registry.
for (const [name, info] of Object.entries(PROVIDERS)) {
  const label = document.createElement("label");
  const input = Object.assign(document.createElement("input"), { type: "radio", name: "provider", value: name });
  if (name === "browser") label.id = "browser-provider";
  label.append(input, ` ${info.label}`);
  $("#providers").append(label);
}

/** The start screen's example cards (and the note on the small model), for the chosen model. */
function showExamples() {
  const small = state.settings.provider === "browser" && !state.settings.modelUrl;
  const cards = SITE ? examples : small ? SMALL_EXAMPLES : EXAMPLES; // a configured site's own, else per model
  $("#examples").replaceChildren(...cards.map(exampleCard));
  $(".examples-title").hidden = cards.length === 0;
  const note = $("#small-model-note");
  note.textContent = SMALL_MODEL_NOTE;
  note.hidden = !small;
}

function exampleCard({ kind, task }) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "example";
  const label = document.createElement("span");
  label.className = "example-kind";
  label.textContent = kind;
  if (kind) button.append(label);
  button.append(task);
  button.addEventListener("click", () => {
    $("#task").value = task;
    $("#task").focus();
  });
  item.append(button);
  return item;
}

// The in-browser model is offered when the build ships one (build.json says so), and a new
// visitor (no saved settings) starts on it: a working agent with no account, key or network.
fetch("build.json").then((response) => response.json()).then((manifest) => {
  if (manifest.browserModel) {
    if (!localStorage.getItem(SETTINGS_KEY) && !SITE?.model.provider) {
      state.settings.provider = "browser";
      updateHint();
      showExamples();
    }
    return;
  }
  const input = form.querySelector("input[value=browser]");
  input.disabled = true;
  $("#browser-provider").title = "This build ships no in-browser model";
  const note = document.createElement("small");
  note.className = "field-help browser-model-missing";
  note.textContent = " (not in this site: build it again with PyPI reachable, without --no-browser-model)";
  $("#browser-provider").append(note);
}).catch(() => {});

// A shared link (#project=…) shows its project read-only; the copy a visitor agrees to run opens in the playground.
if (location.hash.startsWith("#project=")) {
  import("./playground/share-view.js").then(({ openSharedLink }) => openSharedLink({ onCopy: (copy) => playground.open(copy) }));
}

updateHint();
showExamples();
boot().catch((error) => {
  setStatus("The agent could not start", "error");
  showNotice(`The agent could not start: ${error.message}`);
  $("#progress").hidden = true;
});
