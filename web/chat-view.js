// Renders a chat with live agent steps into a container: the user's task,
// then per step the model's thought, its code (highlighted), the tool calls
// the code made, the logs/observation, errors, duration and tokens, and the
// final answer. Used by the site (app.js) and by <wasm-agent>.
//
//   const view = new ChatView(element);
//   view.addTask("What is 2 + 2?");
//   for await (const event of agent.stream(task)) view.handle(event);

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
};

export class ChatView {
  /** @param {HTMLElement} container  a role="log" element works best for screen readers */
  constructor(container) {
    this.container = container;
    this.turn = null; // the current assistant turn
    this.live = null; // the step being generated: {card, thought, code, tools}
  }

  addTask(task) {
    const bubble = el("div", "msg msg-user");
    bubble.append(el("div", "msg-label", "You"), el("div", "msg-text", task));
    this.container.append(bubble);
    this.turn = el("div", "msg msg-agent");
    this.turn.setAttribute("aria-busy", "true");
    this.turn.append(el("div", "msg-label", "Agent"));
    this.steps = el("div", "steps");
    this.turn.append(this.steps);
    this.container.append(this.turn);
    this.#waitForModel();
    this.#scroll();
  }

  /**
   * From a model call to its first token nothing streams (an in-browser model reads its prompt for
   * seconds): the next step's card says what is happening, with a timer or the prompt's progress.
   */
  #waitForModel() {
    const step = this.#liveStep();
    step.waitStarted = performance.now();
    const tick = () => {
      if (this.live !== step || step.raw || step.hasCode) return this.#stopWaiting(step);
      const seconds = Math.floor((performance.now() - step.waitStarted) / 1000);
      const reading = step.prompt;
      const text = !reading ? `Waiting for the model… ${seconds} s`
        : reading.total ? `Reading the prompt… ${reading.processed} / ${reading.total} tokens · ${seconds} s`
          : `Reading the prompt… ${seconds} s`;
      step.head.querySelector(".step-status")?.replaceChildren(text);
    };
    tick();
    step.timer = setInterval(tick, 500);
  }

  #stopWaiting(step) {
    if (step?.timer) clearInterval(step.timer);
    if (step) step.timer = null;
  }

  /** Show one event of `agent.stream()`. */
  handle(event) {
    switch (event.type) {
      case "prompt_progress": { // the in-browser model reads its prompt before the first token
        const step = this.#liveStep();
        step.prompt = { processed: event.processed, total: event.total };
        break;
      }
      case "delta": {
        // The model's text as it streams: the thought above, the code (so far) highlighted below.
        const step = this.#liveStep();
        if (!step.raw) {
          this.#stopWaiting(step);
          step.head.querySelector(".step-status")?.replaceChildren("writing…");
        }
        step.raw += event.text;
        step.thought.textContent = thoughtOf(step.raw);
        const code = partialCode(step.raw);
        if (code !== null) this.#setCode(step, code);
        break;
      }
      case "tool_call":
        if (event.name === "python_interpreter") {
          const step = this.#liveStep();
          this.#stopWaiting(step);
          step.hasCode = true;
          this.#setCode(step, String(event.arguments ?? ""));
          step.head.querySelector(".step-status")?.replaceChildren("running the code…");
        } else {
          const line = toolLine(event.name, event.arguments, null, true, "pending");
          line.dataset.callId = event.id;
          this.#liveStep().tools.append(line);
        }
        break;
      case "tool_output": {
        // A native tool call (tool-calling agent) has its result now.
        const line = [...(this.live?.tools.children ?? [])].find((item) => item.dataset.callId === event.id);
        if (line && !event.isFinalAnswer) {
          line.append(el("span", "tool-arrow", " → "), el("code", "tool-result", clip(formatValue(event.output, { compact: true }), 400)));
        }
        break;
      }
      case "tool_use":
        this.#liveStep().tools.append(toolLine(event.name, event.arguments, event.result, event.ok));
        break;
      case "step":
        this.#finishStep(event);
        // The run goes on to another model call, unless this step ended it.
        if (!event.isFinalAnswer && !["AgentMaxStepsError", "AgentInterruptedError"].includes(event.error?.type)) {
          this.#waitForModel();
        }
        break;
      case "planning": {
        const card = el("details", "step step-plan");
        card.open = true;
        card.append(el("summary", "step-head", "Plan"), el("div", "step-thought", event.plan));
        this.steps.append(card);
        break;
      }
      case "final_answer":
        this.finalOutput = event.output; // shown with the result: an interrupted run has none
        break;
      case "result":
        this.#result(event);
        break;
      default:
        break;
    }
    this.#scroll();
  }

  /** The current turn is over (its run ended, however it ended). */
  endTurn() {
    this.turn?.setAttribute("aria-busy", "false");
    if (this.live && !this.live.raw && !this.live.hasCode) { // a model call that never came (a saved run's end)
      this.#stopWaiting(this.live);
      this.live.card.remove();
      this.live = null;
    }
  }

  /** A problem outside any step (the agent could not start, the worker died…). */
  showError(message) {
    if (this.live && !this.live.raw && !this.live.hasCode) {
      this.#stopWaiting(this.live);
      this.live.card.remove();
      this.live = null;
    }
    const box = el("div", "notice notice-error", message);
    box.setAttribute("role", "alert");
    (this.turn ?? this.container).append(box);
    this.#scroll();
  }

  #liveStep() {
    if (!this.live) {
      const card = el("details", "step step-live");
      card.open = true;
      const head = el("summary", "step-head");
      head.append(el("span", "step-title", `Step ${this.steps.querySelectorAll(".step-action").length + 1}`),
        el("span", "step-status", "working…"));
      const thought = el("div", "step-thought");
      const code = el("div", "step-code-slot");
      const tools = el("ul", "step-tools");
      card.append(head, thought, code, tools);
      card.classList.add("step-action");
      this.steps.append(card);
      this.live = { card, head, thought, code, tools, raw: "" };
    }
    return this.live;
  }

  #setCode(step, code) {
    step.code.replaceChildren(codeBlock(code));
  }

  #finishStep(event) {
    const step = this.#liveStep();
    this.#stopWaiting(step);
    this.live = null;
    step.card.classList.remove("step-live");
    if (event.error) step.card.classList.add("step-failed");
    step.head.replaceChildren(el("span", "step-title", `Step ${event.stepNumber}`), stepMeta(event));
    const text = event.modelOutput ?? "";
    step.thought.textContent = thoughtOf(text);
    if (event.code) this.#setCode(step, event.code);
    if (event.observations) {
      const obs = el("div", "step-observation");
      obs.append(el("div", "block-label", "Observation"), el("pre", "observation-text", event.observations));
      step.card.append(obs);
    }
    if (event.error) {
      const error = el("div", "step-error");
      error.append(el("div", "block-label", event.error.type ?? "Error"), el("pre", "error-text", event.error.message));
      step.card.append(error);
    }
  }

  #result(event) {
    if (this.live) { // a model call the run did not wait for: stopped, or a step that never came
      const live = this.live;
      this.#stopWaiting(live);
      this.live = null;
      if (!live.raw && !live.hasCode) live.card.remove();
      else {
        live.card.classList.remove("step-live");
        live.head.querySelector(".step-status")?.replaceChildren("stopped");
      }
    }
    if (event.state === "success" || (event.state === "max_steps_error" && this.finalOutput != null)) {
      const answer = el("div", "final-answer");
      answer.append(el("div", "final-label", event.state === "success" ? "Final answer" : "Best answer after the last step"),
        el("div", "final-text", formatValue(this.finalOutput)));
      this.turn.append(answer);
    }
    const labels = { interrupted: "Stopped by you", error: "The run failed",
      max_steps_error: this.finalOutput == null ? "No answer found" : "Reached the step limit" };
    if (event.state in labels) {
      const notice = el("div", `notice ${event.state === "error" ? "notice-error" : "notice-warn"}`);
      notice.setAttribute("role", "alert");
      notice.append(el("strong", null, labels[event.state]));
      if (event.error?.message) notice.append(el("div", "notice-detail", event.error.message));
      this.turn.append(notice);
    }
    if (event.saveError) { // the answer is above; the saved copy stopped where the store refused a write
      const notice = el("div", "notice notice-error save-error");
      notice.setAttribute("role", "alert");
      notice.append(el("strong", null, "This run could not be saved: "), el("div", "notice-detail", event.saveError));
      this.turn.append(notice);
    }
    this.finalOutput = undefined;
    const usage = event.tokenUsage ?? {};
    const tokens = (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
    // A step stopped mid-answer has no count from the model: say nothing rather than "0 tokens".
    const summary = `${event.steps ?? 0} step${event.steps === 1 ? "" : "s"} · ${(event.duration ?? 0).toFixed(1)} s`
      + (tokens ? ` · ${tokens} tokens` : "");
    this.turn.append(el("div", "run-summary", summary));
  }

  #scroll() {
    const scroller = this.container.closest("[data-scroll]") ?? this.container;
    scroller.scrollTop = scroller.scrollHeight;
  }
}

function stepMeta(event) {
  const meta = el("span", "step-meta");
  if (event.duration != null) meta.append(el("span", "chip", `${event.duration.toFixed(2)} s`));
  const usage = event.tokenUsage;
  if (usage) meta.append(el("span", "chip", `${usage.inputTokens} in · ${usage.outputTokens} out`));
  if (event.error?.type === "AgentInterruptedError") meta.append(el("span", "chip chip-warn", "stopped"));
  else if (event.error) meta.append(el("span", "chip chip-error", "error"));
  else if (event.isFinalAnswer) meta.append(el("span", "chip chip-ok", "final"));
  return meta;
}

function toolLine(name, args, result, ok, state = "done") {
  const item = el("li", `tool-use ${ok ? "" : "tool-failed"}`);
  const call = `${name}(${formatArgs(args)})`;
  item.append(el("code", "tool-call", call));
  if (state !== "pending") {
    const text = typeof result === "string" ? result : formatValue(result, { compact: true });
    item.append(el("span", "tool-arrow", ok ? " → " : " ✗ "), el("code", "tool-result", clip(text, 400)));
  }
  return item;
}

function formatArgs(args) {
  if (args && typeof args === "object" && !Array.isArray(args)) {
    return Object.entries(args).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(", ");
  }
  return args == null ? "" : JSON.stringify(args);
}

const clip = (text, max) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** A value from Python as people read it: strings as is, repr markers as their repr, the rest as JSON. */
export function formatValue(value, { compact = false } = {}) {
  if (value && typeof value === "object" && "$repr" in value) return value.$repr;
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "message" in value && "type" in value) return `${value.type}: ${value.message}`;
  return JSON.stringify(value, null, compact ? 0 : 2) ?? "None";
}

/** The code of a model's text that is still streaming (its block may be unclosed), or null. */
function partialCode(text) {
  const match = /<code>\n?([\s\S]*?)(?:<\/code>|$)/.exec(text) ?? /```(?:py|python)?\n([\s\S]*?)(?:```|$)/.exec(text);
  return match ? match[1].replace(/\n$/, "") : null;
}

/** The model's text without its code block. */
export function thoughtOf(text) {
  return text.replace(/<code>[\s\S]*?(<\/code>|$)/g, "").replace(/```(?:py|python)?\n[\s\S]*?(```|$)/g, "")
    .replace(/^Thought:\s*/i, "").trim();
}

const PY_TOKENS = new RegExp([
  String.raw`(?<comment>#[^\n]*)`,
  String.raw`(?<string>(?:[rbfu]{0,2})(?:"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))`,
  String.raw`(?<keyword>\b(?:and|as|assert|async|await|break|class|continue|def|del|elif|else|except|finally|for|from|global|if|import|in|is|lambda|nonlocal|not|or|pass|raise|return|try|while|with|yield|None|True|False)\b)`,
  String.raw`(?<number>\b\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?\b)`,
  String.raw`(?<call>\b[A-Za-z_]\w*(?=\())`,
].join("|"), "g");

/** A <pre><code> with Python syntax colouring (spans, no HTML from the text). */
export function codeBlock(code) {
  const pre = el("pre", "code");
  const codeEl = el("code", "language-python");
  let last = 0;
  for (const match of code.matchAll(PY_TOKENS)) {
    if (match.index > last) codeEl.append(code.slice(last, match.index));
    const kind = Object.entries(match.groups).find(([, value]) => value !== undefined)[0];
    codeEl.append(el("span", `tok-${kind}`, match[0]));
    last = match.index + match[0].length;
  }
  codeEl.append(code.slice(last));
  pre.append(codeEl);
  return pre;
}
