// The JS API and the <wasm-agent> element. One script tag turns a page into an agent page:
//
//   <script type="module" src="/dist/wasm-agent.js"></script>
//   <wasm-agent provider="openai" base-url="http://127.0.0.1:11434/v1" model="qwen2.5-coder"></wasm-agent>
//
// Attributes: provider ("openai" | "anthropic" | "gemini", or "browser": the in-browser model the
// site ships, no key; "scripted" for demos and tests), model, base-url, api-key (prefer the `apiKey`
// property: an attribute is visible in the page's HTML), agent-type, max-steps (default: the model's,
// 3 for the small in-browser model, else 10), instructions, placeholder, mcp-servers (space-separated
// URLs of MCP servers), assets-url (the runtime's folder, when a bundler moved this module).
// Properties: `tools` (JS tools, as for createAgent), `pythonTools`, `mcpServers`
// ([{url, headers}], for servers that need credentials), `onUserInput` (question => answer; by default
// the agent asks in the element's chat).
// Events: "agent-event" (detail: each stream event), "agent-ready", "agent-error".

import { ChatView } from "./chat-view.js";
import { createAgent, enableOffline, startRuntime } from "./agent-client.js";
import { UserQuestions } from "./user-question.js";

export { Agent, checkPythonTools, checkToolSpecs, createAgent, enableOffline, listMcpTools, startRuntime } from "./agent-client.js";

const STYLE_URL = new URL("chat.css", import.meta.url).href;

class WasmAgentElement extends HTMLElement {
  #agent = null; // Promise<Agent>, made on the first run
  #view = null;
  #questions = null;
  #busy = false;

  constructor() {
    super();
    this.tools = [];
    this.pythonTools = [];
    this.mcpServers = [];
    this.onUserInput = null;
    this.apiKey = null;
  }

  /** Removed from the page (not just moved): the agent and its sandbox are closed. */
  disconnectedCallback() {
    queueMicrotask(() => {
      if (this.isConnected || !this.#agent) return;
      const agent = this.#agent;
      this.#agent = null;
      agent.then((opened) => opened.close()).catch(() => {});
    });
  }

  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: "open" });
    const assetsUrl = this.getAttribute("assets-url") ?? undefined;
    const styleUrl = assetsUrl ? new URL("chat.css", new URL(assetsUrl.replace(/\/?$/, "/"), location.href)) : STYLE_URL;
    root.innerHTML = `
      <link rel="stylesheet" href="${styleUrl}">
      <section class="wa-embed" part="container">
        <div class="wa-status" role="status" aria-live="polite">Loading the agent…</div>
        <div class="wa-log" role="log" aria-live="polite" data-scroll></div>
        <form class="wa-form">
          <label class="visually-hidden" for="task">Task for the agent</label>
          <textarea id="task" rows="2" required></textarea>
          <div class="wa-buttons">
            <button type="submit" class="btn btn-primary">Run</button>
            <button type="button" class="btn btn-stop" disabled>Stop</button>
          </div>
        </form>
      </section>`;
    const form = root.querySelector("form");
    const textarea = root.querySelector("textarea");
    textarea.placeholder = this.getAttribute("placeholder") ?? "Ask the agent…";
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    this.#view = new ChatView(root.querySelector(".wa-log"));
    this.#questions = new UserQuestions(() => this.#view.steps ?? root.querySelector(".wa-log"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const task = textarea.value.trim();
      if (task && !this.#busy) {
        textarea.value = "";
        this.run(task);
      }
    });
    root.querySelector(".btn-stop").addEventListener("click", () => this.interrupt());
    const status = root.querySelector(".wa-status");
    enableOffline({ assetsUrl }).catch(() => false).then(() => startRuntime({
      assetsUrl,
      onProgress: (progress) => { status.textContent = progress.message; },
    })).then(({ info }) => {
      status.textContent = info.sandbox ? "Agent ready" : `Code execution is unavailable: ${info.sandboxProblem}`;
      this.dispatchEvent(new CustomEvent("agent-ready", { detail: info }));
    }, (error) => {
      status.textContent = `The agent could not start: ${error.message}`;
      this.dispatchEvent(new CustomEvent("agent-error", { detail: error }));
    });
  }

  async #ensureAgent() {
    this.#agent ??= createAgent({
      assetsUrl: this.getAttribute("assets-url") ?? undefined,
      model: { provider: this.getAttribute("provider") ?? "openai", model: this.getAttribute("model") ?? "",
        baseUrl: this.getAttribute("base-url") ?? undefined, apiKey: this.apiKey ?? this.getAttribute("api-key") ?? undefined },
      agentType: this.getAttribute("agent-type") ?? "code",
      maxSteps: this.hasAttribute("max-steps") ? Number(this.getAttribute("max-steps")) : undefined,  // else the model's default
      instructions: this.getAttribute("instructions") ?? undefined,
      tools: this.tools,
      pythonTools: this.pythonTools,
      mcpServers: [...(this.getAttribute("mcp-servers") ?? "").split(/\s+/).filter(Boolean).map((url) => ({ url })),
        ...this.mcpServers],
      onUserInput: (question) => (this.onUserInput ? this.onUserInput(question) : this.#questions.ask(question)),
    }).catch((error) => {
      this.#agent = null; // the next run tries again
      throw error;
    });
    return this.#agent;
  }

  /** Run a task in the element's chat; resolves with the result. */
  async run(task) {
    const root = this.shadowRoot;
    this.#busy = true;
    root.querySelector(".btn-stop").disabled = false;
    root.querySelector("button[type=submit]").disabled = true;
    this.#view.addTask(task);
    try {
      const agent = await this.#ensureAgent();
      let result = null;
      for await (const event of agent.stream(task)) {
        this.#view.handle(event);
        this.dispatchEvent(new CustomEvent("agent-event", { detail: event }));
        if (event.type === "result") result = event;
      }
      return result;
    } catch (error) {
      this.#view.showError(error.message);
      this.dispatchEvent(new CustomEvent("agent-error", { detail: error }));
      return null;
    } finally {
      this.#view.endTurn();
      this.#busy = false;
      root.querySelector(".btn-stop").disabled = true;
      root.querySelector("button[type=submit]").disabled = false;
    }
  }

  interrupt() {
    this.#questions?.cancel();
    return this.#agent?.then((agent) => agent.interrupt());
  }
}

if (!customElements.get("wasm-agent")) customElements.define("wasm-agent", WasmAgentElement);
