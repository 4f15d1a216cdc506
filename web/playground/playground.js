// The agent playground: a panel of the site where a person writes an agent (tools in code editors,
// checked as they type; instructions, agent type, steps, imports, planning, model), tries tasks
// with it, and keeps it as a project in this browser (list, rename, duplicate, delete, export,
// import). Starter templates on the start screen open in it.
//
//   const playground = mountPlayground({ root, openButton, templateList, pageModel, providers, onToggle });
//   playground.open(project)   // a project object (a template, a shared link's copy…) saved and shown

import { ProjectError, checkProject, newId, newProject } from "./project.js";
import { openProjectStore } from "./project-store.js";
import { mountProjectRuns } from "./project-run.js";
import { TEMPLATES } from "./templates.js";
import { createToolEditor } from "./tool-editors.js";

const SAVE_PAUSE_MS = 300;

/**
 * @param {object} options
 * @param {HTMLElement} options.root           the (empty, hidden) element the panel goes in
 * @param {HTMLElement} options.openButton     opens the panel
 * @param {HTMLElement} [options.templateList] a list on the start screen for the starter templates
 * @param {() => object} options.pageModel     Model settings: {provider, model, baseUrl, modelUrl, apiKey}
 * @param {Record<string, {label: string}>} options.providers   providers.json
 * @param {(open: boolean) => void} options.onToggle   the rest of the page hides while the panel shows
 * @param {(question: string) => Promise<string>} [options.onUserInput]
 */
export function mountPlayground({ root, openButton, templateList, pageModel, providers, onToggle, onUserInput }) {
  let storePromise = null;
  const store = () => (storePromise ??= openProjectStore());
  let ready = null; // Promise: the panel's markup, editors and runs, made on first open
  let current = null; // the project shown, as last checked
  let editors = null;
  let runs = null;
  let saveTimer = null;
  const $ = (selector) => root.querySelector(selector);

  function setup() {
    ready ??= (async () => {
      const html = await fetch(new URL("panel.html", import.meta.url)).then((response) => response.text());
      root.innerHTML = html; // the site's own file
      for (const [name, info] of Object.entries(providers)) $("#pg-provider").append(new Option(info.label, name));
      await showWheels();
      const onChange = () => scheduleSave();
      const [python, js] = await Promise.all([
        createToolEditor({ parent: $("#pg-python"), report: $("#pg-python-check"), language: "python",
          label: "Python tools", describedBy: "pg-python-help", onChange }),
        createToolEditor({ parent: $("#pg-js"), report: $("#pg-js-check"), language: "javascript",
          label: "JS tools", describedBy: "pg-js-help", onChange }),
      ]);
      editors = { python, js };
      runs = mountProjectRuns({ root, store, pageModel, onUserInput, project: async () => {
        await flushSave({ strict: true });
        return current;
      } });
      const { mountProjectActions } = await import("./share-view.js"); // Share link, Download site
      mountProjectActions($("#pg-share"), async () => {
        await flushSave({ strict: true });
        return current;
      });
      $("#pg-form").addEventListener("input", scheduleSave);
      $("#pg-form").addEventListener("change", scheduleSave);
      $("#pg-form").addEventListener("submit", (event) => event.preventDefault());
      $("#pg-close").addEventListener("click", close);
      $("#pg-new").addEventListener("click", () => open(newProject()));
      $("#pg-duplicate").addEventListener("click", duplicate);
      $("#pg-delete").addEventListener("click", remove);
      $("#pg-export").addEventListener("click", exportFile);
      $("#pg-import-button").addEventListener("click", () => $("#pg-import").click());
      $("#pg-import").addEventListener("change", importFile);
    })();
    ready.catch(() => { ready = null; });
    return ready;
  }

  /** Show the panel on `project` (saved first), else on the newest project, else on a new one. */
  async function open(project = null) {
    await setup();
    const db = await store();
    if (project) project = await db.save(project);
    project ??= (await db.list())[0] ?? await db.save(newProject({ name: "My agent" }));
    root.hidden = false;
    onToggle(true);
    await show(project);
    $("#pg-title").focus();
  }

  function close() {
    flushSave();
    root.hidden = true;
    onToggle(false);
    openButton.focus();
  }

  async function show(project) {
    clearTimeout(saveTimer);
    current = project;
    fillForm(project);
    setStatus("");
    await Promise.all([editors.python.load(project.agent.python_tools), editors.js.load(project.agent.js_tools),
      runs.show(project.id), listProjects()]);
    runs.clearLog();
  }

  // -- the definition form ----------------------------------------------------------------
  function fillForm({ name, site, agent, model }) {
    const form = $("#pg-form").elements;
    form.name.value = name;
    form.instructions.value = agent.instructions;
    form.type.value = agent.type;
    form.max_steps.value = agent.max_steps ?? "";
    form.planning_interval.value = agent.planning_interval ?? "";
    const wheels = new Set([...root.querySelectorAll("[name=wheel]")].map((box) => box.value));
    for (const box of root.querySelectorAll("[name=wheel]")) box.checked = agent.authorized_imports.includes(box.value);
    form.imports.value = agent.authorized_imports.filter((name) => !wheels.has(name)).join(", ");
    form.mcp_servers.value = agent.mcp_servers.join("\n");
    form.provider.value = model.provider in providers ? model.provider : "";
    form.model.value = model.model;
    form.base_url.value = model.base_url;
    form.title.value = site.title;
    form.intro.value = site.intro;
    form.examples.value = site.examples.map((example) => example.task).join("\n");
  }

  /** The project as the form and editors say now; throws ProjectError naming a wrong field. */
  function readForm() {
    const form = $("#pg-form").elements;
    const number = (input) => (input.value.trim() === "" ? null : Number(input.value));
    const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);
    const wheels = [...root.querySelectorAll("[name=wheel]:checked")].map((box) => box.value);
    const others = form.imports.value.split(",").map((name) => name.trim()).filter(Boolean);
    const examples = lines(form.examples.value);
    return checkProject({
      ...current, name: form.name.value,
      site: { title: form.title.value, intro: form.intro.value,
        examples: examples.map((task) => current.site.examples.find((example) => example.task === task) ?? { label: "", task }) },
      agent: { type: form.type.value, instructions: form.instructions.value, max_steps: number(form.max_steps),
        planning_interval: number(form.planning_interval), authorized_imports: [...new Set([...wheels, ...others])],
        mcp_servers: lines(form.mcp_servers.value), python_tools: editors.python.value, js_tools: editors.js.value },
      model: { provider: form.provider.value, model: form.model.value.trim(), base_url: form.base_url.value.trim() },
    }, { providers: Object.keys(providers) });
  }

  // -- saving: a moment after each change; a definition with a wrong field is kept in the form --
  function scheduleSave() {
    clearTimeout(saveTimer);
    setStatus("Unsaved changes…");
    saveTimer = setTimeout(flushSave, SAVE_PAUSE_MS);
  }

  /** Save a pending change now; with `strict`, a wrong field (kept in the form) is thrown, not only shown. */
  async function flushSave({ strict = false } = {}) {
    if (saveTimer === null || !current) return;
    clearTimeout(saveTimer);
    let project;
    try {
      project = readForm();
    } catch (error) {
      if (!(error instanceof ProjectError)) throw error;
      setStatus(`Not saved: ${error.message}`, "error");
      if (strict) throw error;
      return;
    }
    saveTimer = null;
    const renamed = project.name !== current.name;
    current = await (await store()).save(project);
    setStatus(`Saved ${new Date(current.updated).toLocaleTimeString("en")}`);
    if (renamed) await listProjects();
  }

  function setStatus(text, kind = "") {
    $("#pg-save-status").textContent = text;
    $("#pg-save-status").dataset.kind = kind;
  }

  // -- the project list and its actions ---------------------------------------------------
  async function listProjects() {
    const projects = await (await store()).list();
    $("#pg-project-list").replaceChildren(...projects.map((project) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pg-project";
      button.textContent = project.name;
      if (project.id === current?.id) button.setAttribute("aria-current", "true");
      const when = document.createElement("small");
      when.textContent = ` · ${new Date(project.updated).toLocaleString("en", { dateStyle: "short", timeStyle: "short" })}`;
      button.append(when);
      button.addEventListener("click", async () => {
        await flushSave();
        await show(await (await store()).get(project.id) ?? project);
      });
      item.append(button);
      return item;
    }));
  }

  async function duplicate() {
    await flushSave();
    await show(await (await store()).duplicate(current.id));
    setStatus(`Duplicated as “${current.name}”`);
  }

  async function remove() {
    if (!confirm(`Delete the project “${current.name}” and its runs? This cannot be undone.`)) return;
    const db = await store();
    clearTimeout(saveTimer);
    saveTimer = null;
    const name = current.name;
    await db.delete(current.id);
    await show((await db.list())[0] ?? await db.save(newProject({ name: "My agent" })));
    setStatus(`Deleted “${name}”`);
  }

  async function exportFile() {
    await flushSave();
    const blob = new Blob([JSON.stringify(current, null, 1) + "\n"], { type: "application/json" });
    const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob),
      download: `${current.name.replace(/[^\w.-]+/g, "-").replace(/^-+|-+$/g, "") || "agent"}.wasm-agent.json` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  async function importFile() {
    const file = $("#pg-import").files[0];
    $("#pg-import").value = "";
    if (!file) return;
    const status = $("#pg-import-status");
    status.textContent = "";
    let project;
    try {
      project = checkProject(JSON.parse(await file.text()), { providers: Object.keys(providers) });
    } catch (error) {
      const problem = error instanceof SyntaxError ? `it is not JSON (${error.message})` : error.message;
      status.textContent = `${file.name} was not imported: ${problem}`;
      return;
    }
    const db = await store();
    if (await db.get(project.id)) project = { ...project, id: newId() }; // never overwrite a project
    await flushSave();
    await show(await db.save(project));
    setStatus(`Imported “${project.name}”`);
  }

  // -- authorized imports: the modules of the wheels this site ships -------------------------
  async function showWheels() {
    const lock = await fetch(new URL("../pyodide/pyodide-lock.json", import.meta.url)).then((r) => r.json()).catch(() => null);
    const modules = Object.values(lock?.packages ?? {}).filter((entry) => entry.name !== "wasm-agent")
      .flatMap((entry) => entry.imports ?? []).sort();
    $("#pg-wheels").replaceChildren(...modules.map((name) => {
      const label = document.createElement("label");
      const box = Object.assign(document.createElement("input"), { type: "checkbox", name: "wheel", value: name });
      label.append(box, ` ${name}`);
      return label;
    }));
    if (!modules.length) $("#pg-wheels").textContent = "This site ships no extra package (build it with --wheel to add some).";
  }

  openButton.addEventListener("click", () => open().catch((error) => console.error(error)));
  if (templateList) {
    templateList.replaceChildren(...TEMPLATES.map((template) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "example pg-template";
      button.dataset.template = template.id;
      const label = document.createElement("span");
      label.className = "example-kind";
      label.textContent = template.label;
      button.append(label, template.summary);
      button.addEventListener("click", () => open(template.make()).catch((error) => console.error(error)));
      item.append(button);
      return item;
    }));
  }
  return { open, close };
}
