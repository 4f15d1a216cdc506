// The timeline of one saved run: its steps, model calls and tool calls with
// start, duration, tokens and errors, the run's token totals and, when prices
// are set, an estimated cost; "Export trace (OTLP JSON)" downloads it for
// tracing tools. The rows come from Python (wasm_agent.tracing.timeline, in
// the agent worker), so the page and the OTLP export never disagree.
//
//   const view = new TimelineView(element, { rpc: () => rpcPromise, modelId: () => "gpt-4o-mini" });
//   await view.show(runId, "Run title");

import { exportTrace, runTimeline } from "./runs-api.js";

const PRICES_KEY = "wasm-agent:prices";

/** Save `value` as a JSON file through the browser's download. */
export function downloadJson(filename, value) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 1)], { type: "application/json" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Prices in US dollars per million tokens, remembered on this device, or null. */
export function savedPrices() {
  try {
    const prices = JSON.parse(localStorage.getItem(PRICES_KEY) ?? "null");
    return prices && Number.isFinite(prices.inputPerMillion) && Number.isFinite(prices.outputPerMillion) ? prices : null;
  } catch {
    return null;
  }
}

/** A DOM element with attributes (`class`, booleans, strings) and children (null ones skipped). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function seconds(value) {
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  return value < 60 ? `${value.toFixed(value < 10 ? 2 : 1)} s` : `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

const KIND_LABELS = { step: "Step", planning: "Planning", model: "Model call", tool: "Tool call" };

export class TimelineView {
  #root;
  #options;
  #runId = null;
  #title = "";

  /**
   * @param {HTMLElement} root
   * @param {{rpc: () => Promise<import("./rpc.js").RpcChannel>, modelId?: () => string | undefined}} options
   */
  constructor(root, options) {
    this.#root = root;
    this.#options = options;
    root.classList.add("timeline");
  }

  /** Show the timeline of a saved run (asks the agent worker for its rows). */
  async show(runId, title) {
    this.#runId = runId;
    this.#title = title;
    this.#root.replaceChildren(el("p", { class: "timeline-loading", role: "status" }, "Loading the timeline…"));
    try {
      const rpc = await this.#options.rpc();
      const { rows, totals } = await runTimeline(rpc, runId, this.#traceOptions());
      if (this.#runId === runId) this.#render(rows, totals);
    } catch (error) {
      if (this.#runId === runId) {
        this.#root.replaceChildren(el("p", { class: "notice notice-error", role: "alert" },
          `The timeline could not be read: ${error.message}`));
      }
    }
  }

  #traceOptions() {
    const prices = savedPrices();
    const modelId = this.#options.modelId?.() || undefined;
    return { ...(modelId ? { modelId } : {}), ...(prices ? { prices } : {}) };
  }

  #render(rows, totals) {
    const start = Math.min(...rows.map((row) => row.start).filter((value) => value > 0), Infinity);
    const end = Math.max(...rows.map((row) => row.end), start);
    const total = Number.isFinite(start) ? end - start : 0;
    const span = total || 1;
    const table = el("table", { class: "timeline-table" },
      el("caption", { class: "visually-hidden" }, `Timeline of ${this.#title}`),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "What"), el("th", { scope: "col" }, "Start"), el("th", { scope: "col" }, "Duration"),
        el("th", { scope: "col" }, "Tokens"), el("th", { scope: "col", class: "timeline-bar-col" }, el("span", { class: "visually-hidden" }, "Bar")))));
    const body = el("tbody");
    // A step's error is usually its code execution's: print it once, under the call that failed.
    const shownBelow = new Set(rows.filter((row) => row.error && row.parent !== null && rows[row.parent].error === row.error)
      .map((row) => row.parent));
    rows.forEach((row, index) => {
      const offset = row.start > 0 ? row.start - start : 0;
      const tokens = row.kind === "model" ? `${row.input_tokens} in · ${row.output_tokens} out` : "";
      const bar = el("div", { class: `timeline-bar timeline-bar-${row.kind}${row.error ? " timeline-bar-error" : ""}`,
        "aria-hidden": "true" });
      bar.style.marginLeft = `${(100 * offset) / span}%`;
      bar.style.width = `${Math.max(0.5, (100 * row.duration) / span)}%`;
      const what = el("th", { scope: "row", class: `timeline-name timeline-depth-${row.parent === null ? 0 : 1}` },
        el("span", { class: "visually-hidden" }, `${KIND_LABELS[row.kind] ?? row.kind}: `), row.name);
      if (row.error) what.append(el("span", { class: "chip chip-error", title: row.error }, "error"));
      body.append(el("tr", { class: `timeline-row timeline-${row.kind}${row.error ? " timeline-failed" : ""}` },
        what, el("td", {}, `+${seconds(offset)}`), el("td", {}, seconds(row.duration)), el("td", {}, tokens),
        el("td", { class: "timeline-bar-col" }, bar)));
      if (row.error && !shownBelow.has(index)) {
        body.append(el("tr", { class: "timeline-error-row" },
          el("td", { colspan: "5" }, el("pre", { class: "error-text" }, row.error))));
      }
    });
    table.append(body);
    const models = rows.filter((row) => row.kind === "model").length;
    const tools = rows.filter((row) => row.kind === "tool").length;
    const summary = el("p", { class: "timeline-totals" },
      `${models} model call${models === 1 ? "" : "s"} · ${tools} tool call${tools === 1 ? "" : "s"} · `
      + `${totals.input_tokens} input + ${totals.output_tokens} output = ${totals.total_tokens} tokens · ${seconds(total)}`,
      "cost_usd" in totals ? el("strong", { class: "timeline-cost" }, ` · ≈ $${totals.cost_usd.toFixed(4)}`) : null);
    this.#root.replaceChildren(
      rows.length ? table : el("p", { class: "timeline-empty" }, "No finished step yet."),
      summary, this.#pricesForm(), this.#exportButton());
  }

  #pricesForm() {
    const prices = savedPrices();
    const input = (id, label, value) => el("label", { class: "timeline-price", for: id }, label,
      el("input", { id, type: "number", min: "0", step: "0.01", inputmode: "decimal", value: value ?? "" }));
    const form = el("form", { class: "timeline-prices", "aria-label": "Prices for the cost estimate" },
      el("span", { class: "timeline-prices-title" }, "Cost estimate, US$ per million tokens:"),
      input("price-input", "input", prices?.inputPerMillion), input("price-output", "output", prices?.outputPerMillion),
      el("button", { type: "submit", class: "btn btn-small" }, "Apply"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const inputPerMillion = Number(form.querySelector("#price-input").value);
      const outputPerMillion = Number(form.querySelector("#price-output").value);
      const valid = form.querySelector("#price-input").value !== "" && form.querySelector("#price-output").value !== "";
      if (valid) localStorage.setItem(PRICES_KEY, JSON.stringify({ inputPerMillion, outputPerMillion }));
      else localStorage.removeItem(PRICES_KEY);
      this.show(this.#runId, this.#title);
    });
    return form;
  }

  #exportButton() {
    const button = el("button", { type: "button", class: "btn btn-small timeline-export" }, "Export trace (OTLP JSON)");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const trace = await exportTrace(await this.#options.rpc(), this.#runId, this.#traceOptions());
        downloadJson(`trace-${this.#runId.slice(0, 8)}.otlp.json`, trace);
      } finally {
        button.disabled = false;
      }
    });
    return el("div", { class: "timeline-actions" }, button);
  }
}
