// The run history panel: a dialog listing this origin's saved runs (title,
// status, steps, last update), newest first, with open (its timeline), resume,
// rename, export as a JSON download, import from a file, and delete. Opening a
// run shows its timeline and, folded, its steps as the chat showed them.
// It reads IndexedDB directly (web/runs-api.js), so it works before Python has
// loaded; the timeline and resuming wait for the agent worker.
// An imported run's code came from a file: before resuming it, the panel shows
// that code and asks whether to run it again (to rebuild its variables) or not.
// A stored record that is not in the format is listed as damaged, to be deleted.
//
//   import { mountRunHistory } from "./history.js";
//   const history = mountRunHistory({
//     button: document.querySelector("#open-history"),       // opens the panel
//     rpc: () => startRuntime().then(({ rpc }) => rpc),        // for timelines and traces
//     modelId: () => settings.model,                           // names model calls in the trace
//     onResume: (runId, run, { replay }) => …,                 // optional: shows "Resume"; replay: undefined
//                                                              // (made here: as usual), true or false (imported)
//   });

import { ChatView } from "./chat-view.js";
import { MAX_EXPORT_CHARS } from "./run-format.js";
import { deleteRun, exportRun, importRun, listRuns, renameRun, runEvents } from "./runs-api.js";
import { TimelineView, downloadJson, el } from "./timeline.js";

const STYLE_URL = new URL("runs.css", import.meta.url).href;
const RESUMABLE = new Set(["running", "interrupted", "error", "max_steps_error"]);
// Running in some tab right now: neither resumable nor deletable from here.
const isLive = (run) => run.status === "running" && Boolean(globalThis.navigator?.locks);
const STATUS_LABELS = { running: "running", interrupted: "interrupted", success: "finished", max_steps_error: "out of steps",
  error: "failed" };
const STATUS_KINDS = { success: "ok", error: "error", max_steps_error: "warn", interrupted: "warn", running: "live" };

/** "3 min ago", or a date for older runs. */
export function whenText(ms, now = Date.now()) {
  const seconds = Math.round((ms - now) / 1000);
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  if (Math.abs(seconds) < 60) return format.format(seconds, "second");
  if (Math.abs(seconds) < 3600) return format.format(Math.round(seconds / 60), "minute");
  if (Math.abs(seconds) < 86_400) return format.format(Math.round(seconds / 3600), "hour");
  return new Date(ms).toLocaleString("en", { dateStyle: "medium", timeStyle: "short" });
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "run";
}

/**
 * Mount the panel (a modal dialog appended to the body).
 * @param {{button?: HTMLElement, rpc: () => Promise<object>, modelId?: () => string | undefined,
 *          onResume?: (runId: string) => unknown}} options
 */
export function mountRunHistory(options) {
  return new RunHistory(options);
}

export class RunHistory {
  #options;
  #dialog;
  #list;
  #status;
  #detail;
  #timeline;
  #steps;
  #shown = null; // the run opened in the detail pane
  #runs = [];
  #consent;

  constructor(options) {
    this.#options = options;
    if (!document.querySelector(`link[href="${STYLE_URL}"]`)) {
      document.head.append(el("link", { rel: "stylesheet", href: STYLE_URL }));
    }
    const importInput = el("input", { type: "file", id: "runs-import", accept: ".json,application/json", class: "visually-hidden" });
    this.#status = el("p", { class: "runs-status", role: "status", "aria-live": "polite" });
    this.#consent = el("section", { class: "runs-consent", role: "alertdialog", "aria-labelledby": "runs-consent-title",
      hidden: true });
    this.#list = el("ul", { class: "runs-list", "aria-labelledby": "runs-title" });
    const timelineRoot = el("div");
    this.#steps = el("details", { class: "runs-steps" }, el("summary", {}, "Steps"), el("div", { class: "log" }));
    this.#steps.addEventListener("toggle", () => this.#steps.open && this.#showSteps());
    this.#detail = el("section", { class: "runs-detail", "aria-labelledby": "runs-detail-title", hidden: true },
      el("h3", { id: "runs-detail-title" }), timelineRoot, this.#steps);
    this.#timeline = new TimelineView(timelineRoot, { rpc: options.rpc, modelId: options.modelId });
    const close = el("button", { type: "button", class: "btn runs-close" }, "Close");
    this.#dialog = el("dialog", { class: "runs-dialog", "aria-labelledby": "runs-title" },
      el("header", { class: "runs-head" },
        el("h2", { id: "runs-title" }, "Runs"),
        el("span", { class: "runs-hint" }, "Saved in this browser, step by step"),
        el("span", { class: "spacer" }),
        importInput,
        el("label", { for: "runs-import", class: "btn runs-import", tabindex: "0", role: "button" }, "Import…"),
        close),
      this.#status, this.#consent, this.#list, this.#detail);
    document.body.append(this.#dialog);
    close.addEventListener("click", () => this.close());
    this.#dialog.querySelector(".runs-import").addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        importInput.click();
      }
    });
    importInput.addEventListener("change", () => this.#import(importInput));
    options.button?.addEventListener("click", () => this.open());
    options.button?.setAttribute("aria-haspopup", "dialog");
  }

  get element() {
    return this.#dialog;
  }

  async open() {
    if (!this.#dialog.open) this.#dialog.showModal();
    await this.refresh();
  }

  close() {
    this.#dialog.close();
  }

  /** Read the runs again and redraw the list. */
  async refresh() {
    try {
      this.#runs = await listRuns();
    } catch (error) {
      this.#say(`The saved runs could not be read: ${error.message}`, true);
      return;
    }
    this.#list.replaceChildren(...this.#runs.map((run) => this.#item(run)));
    if (!this.#runs.length) this.#list.append(el("li", { class: "runs-empty" }, "No saved run yet: runs appear here as they go."));
    this.#dialog.dataset.count = String(this.#runs.length);
  }

  #item(run) {
    if (run.damage) return this.#damagedItem(run);
    const status = el("span", { class: `chip runs-chip runs-chip-${STATUS_KINDS[run.status] ?? "muted"}` },
      STATUS_LABELS[run.status] ?? run.status);
    const when = el("time", { datetime: new Date(run.updatedAt).toISOString(), title: new Date(run.updatedAt).toLocaleString("en") },
      whenText(run.updatedAt));
    const openButton = el("button", { type: "button", class: "runs-open", "aria-describedby": `run-meta-${run.id}` }, run.title);
    const meta = el("span", { class: "runs-meta", id: `run-meta-${run.id}` }, status,
      run.imported ? el("span", { class: "chip runs-chip runs-chip-muted", title: "came from a file" }, "imported") : null,
      ` ${run.steps} step${run.steps === 1 ? "" : "s"} · updated `, when);
    const actions = el("span", { class: "runs-actions" });
    const action = (label, handler, extra = {}) => {
      const button = el("button", { type: "button", class: "btn btn-small", ...extra }, label);
      button.addEventListener("click", () => handler(button));
      actions.append(button);
      return button;
    };
    if (this.#options.onResume && RESUMABLE.has(run.status) && !isLive(run)) {
      action("Resume", () => this.#resume(run), { class: "btn btn-small btn-primary", "aria-label": `Resume ${run.title}` });
    }
    action("Rename", () => this.#startRename(item, run), { "aria-label": `Rename ${run.title}` });
    action("Export", () => this.#export(run), { "aria-label": `Export ${run.title} as JSON` });
    if (!isLive(run)) {
      action("Delete", (button) => this.#delete(run, button), { class: "btn btn-small runs-delete", "aria-label": `Delete ${run.title}` });
    }
    openButton.addEventListener("click", () => this.#show(run));
    const item = el("li", { class: "runs-item", "data-run-id": run.id, "data-status": run.status },
      el("span", { class: "runs-main" }, openButton, meta), actions);
    return item;
  }

  // A record that is not in the format: what can be shown of it, why, and Delete.
  #damagedItem(run) {
    const actions = el("span", { class: "runs-actions" });
    const remove = el("button", { type: "button", class: "btn btn-small runs-delete", "aria-label": `Delete the damaged run ${run.title}` },
      "Delete");
    remove.addEventListener("click", () => this.#delete(run, remove));
    actions.append(remove);
    return el("li", { class: "runs-item runs-damaged", "data-run-id": String(run.id), "data-status": "damaged" },
      el("span", { class: "runs-main" }, el("span", { class: "runs-title" }, run.title),
        el("span", { class: "runs-meta" }, el("span", { class: "chip runs-chip runs-chip-error" }, "damaged"),
          " ", el("span", { class: "runs-damage" }, `This saved run cannot be read: ${run.damage}`))),
      actions);
  }

  async #show(run) {
    this.#shown = run;
    this.#detail.hidden = false;
    this.#detail.querySelector("h3").textContent = run.title;
    for (const item of this.#list.children) item.toggleAttribute("aria-current", item.dataset.runId === run.id);
    this.#steps.open = false;
    this.#steps.querySelector(".log").replaceChildren();
    this.#steps.querySelector("summary").textContent = `Steps (${run.steps})`;
    await this.#timeline.show(run.id, run.title);
  }

  async #showSteps() {
    const run = this.#shown;
    const log = this.#steps.querySelector(".log");
    if (!run || log.childElementCount) return;
    log.append(el("p", { class: "timeline-loading", role: "status" }, "Loading the steps…"));
    try {
      const events = await runEvents(await this.#options.rpc(), run.id);
      if (this.#shown !== run) return;
      log.replaceChildren();
      const view = new ChatView(log);
      for (const event of events) {
        if (event.type === "task") view.addTask(event.task);
        else if (view.turn) view.handle(event);
      }
      view.endTurn?.(); // newer ChatView marks the turn as no longer busy
    } catch (error) {
      log.replaceChildren(el("p", { class: "notice notice-error", role: "alert" }, `The steps could not be read: ${error.message}`));
    }
  }

  async #resume(run, replay = undefined) {
    if (run.imported && replay === undefined) return this.#askToReplay(run);
    this.#consent.hidden = true;
    this.close(); // the chat shows the resumed run
    try {
      await this.#options.onResume(run.id, run, { replay });
    } catch (error) {
      this.#say(`Could not resume “${run.title}”: ${error.message}`, true);
      await this.open();
    }
  }

  // An imported run's code is untrusted: show it, and let the user choose whether it runs again.
  async #askToReplay(run) {
    let code = [];
    try {
      // The steps a replay runs (wasm_agent/code_agent.py's `_restore_state`): code that ran without error.
      code = (await exportRun(run.id)).steps.filter((step) => step.type === "action" && step.code_action && !step.error
        && !step.is_final_answer).map((step) => `# step ${step.step_number}\n${step.code_action}`);
    } catch (error) {
      this.#say(`Could not read “${run.title}”: ${error.message}`, true);
      return;
    }
    if (!code.length) return this.#resume(run, false); // nothing would run: nothing to ask
    const button = (label, className, handler) => {
      const node = el("button", { type: "button", class: `btn btn-small ${className}` }, label);
      node.addEventListener("click", handler);
      return node;
    };
    const choices = el("div", { class: "runs-consent-actions" },
      button("Run its code and resume", "btn-primary runs-replay", () => this.#resume(run, true)),
      button("Resume without running it", "runs-no-replay", () => this.#resume(run, false)),
      button("Cancel", "runs-consent-cancel", () => { this.#consent.hidden = true; }));
    this.#consent.replaceChildren(
      el("h3", { id: "runs-consent-title" }, `“${run.title}” was imported from a file`),
      el("p", {}, `To rebuild its variables, resuming runs the code saved in that file again (${code.length} `
        + `step${code.length === 1 ? "" : "s"}), in the sandbox, where it can call your tools. Run it only if you trust `
        + "where the file came from. Without it, the run goes on and the model is told that earlier variables are not defined."),
      el("details", { class: "runs-consent-code" }, el("summary", {}, "The code that would run"), el("pre", {}, code.join("\n\n"))),
      choices);
    this.#consent.hidden = false;
    choices.querySelector(".runs-no-replay").focus(); // the safe choice is the default one
  }

  #startRename(item, run) {
    const input = el("input", { type: "text", value: run.title, "aria-label": "New title", required: true, maxlength: "200" });
    const form = el("form", { class: "runs-rename" }, input,
      el("button", { type: "submit", class: "btn btn-small btn-primary" }, "Save"),
      el("button", { type: "button", class: "btn btn-small" }, "Cancel"));
    form.querySelector("button[type=button]").addEventListener("click", () => this.refresh());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await renameRun(run.id, input.value);
        this.#say(`Renamed to “${input.value.trim()}”.`);
      } catch (error) {
        this.#say(`Could not rename: ${error.message}`, true);
      }
      await this.refresh();
    });
    item.querySelector(".runs-main").replaceChildren(form);
    input.focus();
    input.select();
  }

  async #export(run) {
    try {
      downloadJson(`wasm-agent-run-${slug(run.title)}-${run.id.slice(0, 8)}.json`, await exportRun(run.id));
      this.#say(`Exported “${run.title}”.`);
    } catch (error) {
      this.#say(`Could not export: ${error.message}`, true);
    }
  }

  // Two clicks delete, so that one slip does not lose a run.
  async #delete(run, button) {
    if (button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = "Confirm delete";
      this.#say(`Press “Confirm delete” to delete “${run.title}” for good.`);
      setTimeout(() => {
        if (button.isConnected) {
          delete button.dataset.confirm;
          button.textContent = "Delete";
        }
      }, 6000);
      return;
    }
    try {
      await deleteRun(run.id);
      this.#say(`Deleted “${run.title}”.`);
      if (this.#shown?.id === run.id) this.#detail.hidden = true;
    } catch (error) {
      this.#say(`Could not delete: ${error.message}`, true);
    }
    await this.refresh();
  }

  async #import(input) {
    const [file] = input.files;
    input.value = "";
    if (!file) return;
    try {
      if (file.size > 4 * MAX_EXPORT_CHARS) throw new RangeError("the file is too large to be a saved run"); // ≤ 4 bytes a character
      const run = await importRun(await file.text());
      this.#say(`Imported “${run.title}”.`);
    } catch (error) {
      this.#say(`Could not import ${file.name}: ${error.message}`, true);
    }
    await this.refresh();
  }

  #say(text, isError = false) {
    this.#status.textContent = text;
    this.#status.classList.toggle("runs-status-error", isError);
  }
}
