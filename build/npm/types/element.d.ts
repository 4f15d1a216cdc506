// `import "wasm-agent/element"` registers <wasm-agent>; it also re-exports the JS API.
import type { AgentEvent, RunResult, RuntimeInfo, Tool } from "./index.js";

export * from "./index.js";

/**
 * <wasm-agent provider="openai" base-url="…" model="…" assets-url="/wasm-agent/"></wasm-agent>
 * Attributes: provider, model, base-url, api-key, agent-type, max-steps, instructions, placeholder, assets-url.
 * Events: "agent-event" (detail: AgentEvent), "agent-ready" (detail: RuntimeInfo), "agent-error" (detail: Error).
 */
export interface WasmAgentElement extends HTMLElement {
  tools: Tool[];
  pythonTools: string[];
  /** Prefer this to the `api-key` attribute, which is visible in the page's HTML. */
  apiKey: string | null;
  run(task: string): Promise<({ type: "result" } & RunResult) | null>;
  interrupt(): Promise<unknown> | undefined;
}

declare global {
  interface HTMLElementTagNameMap {
    "wasm-agent": WasmAgentElement;
  }
  interface HTMLElementEventMap {
    "agent-event": CustomEvent<AgentEvent>;
    "agent-ready": CustomEvent<RuntimeInfo>;
  }
}
