// The page ↔ agent worker protocol: requests with ids and timeouts, answers,
// and notifications, both ways over one Worker (or MessagePort). When the
// worker dies, every pending request is rejected instead of hanging.
//
//   const rpc = new RpcChannel(worker);                   // page side
//   rpc.handle("call_tool", async ({ name, args }) => …);  // the worker may ask the page
//   const ready = await rpc.request("boot", { … }, { timeoutMs: 120_000 });
//   rpc.on("event", (event) => …);                        // notifications
//
//   const rpc = new RpcChannel(self);                     // worker side, same API
//
// Wire messages (structured-clone objects):
//   {kind: "request", id, method, params}   {kind: "response", id, ok, value | error: {name, message}}
//   {kind: "notify", method, params}

import { PendingRequests, RequestTimeoutError, SandboxDiedError } from "./protocol.js";

export { RequestTimeoutError };
export class WorkerDiedError extends SandboxDiedError {}

const TRANSFER = Symbol("transfer");

/** What a handler returns to answer with `value` and move `transfer` (ports…) to the asking side. */
export function withTransfer(value, transfer) {
  return { [TRANSFER]: transfer, value };
}

export class RpcChannel {
  #endpoint;
  #pending = new PendingRequests();
  #handlers = new Map();
  #listeners = new Map();
  #dead = null;

  /**
   * @param {Worker | MessagePort | DedicatedWorkerGlobalScope} endpoint
   * @param {{defaultTimeoutMs?: number | null}} [options]
   */
  constructor(endpoint, { defaultTimeoutMs = 30_000 } = {}) {
    this.#endpoint = endpoint;
    this.defaultTimeoutMs = defaultTimeoutMs;
    endpoint.onmessage = (event) => this.#receive(event.data);
    if (typeof Worker !== "undefined" && endpoint instanceof Worker) {
      endpoint.onerror = (event) => {
        event.preventDefault?.();
        this.fail(new WorkerDiedError(`the agent worker failed: ${event.message || "it could not start"}`));
      };
      endpoint.onmessageerror = () => this.fail(new WorkerDiedError("the agent worker sent an unreadable message"));
    }
  }

  /**
   * Serve `method`: `fn(params)` may return a value or a promise (or `withTransfer(value, [port])`);
   * a throw answers with an error.
   */
  handle(method, fn) {
    this.#handlers.set(method, fn);
  }

  /** Listen to notifications named `method`. */
  on(method, fn) {
    if (!this.#listeners.has(method)) this.#listeners.set(method, new Set());
    this.#listeners.get(method).add(fn);
    return () => this.#listeners.get(method).delete(fn);
  }

  /**
   * @param {string} method
   * @param {unknown} [params]
   * @param {{timeoutMs?: number | null, transfer?: Transferable[]}} [options]
   */
  async request(method, params = {}, { timeoutMs = this.defaultTimeoutMs, transfer = [] } = {}) {
    if (this.#dead) throw this.#dead;
    const message = await this.#pending.open(
      (id) => this.#endpoint.postMessage({ kind: "request", id, method, params }, transfer), timeoutMs);
    if (!message.ok) throw Object.assign(new Error(message.error?.message ?? "failed"), { name: message.error?.name ?? "Error" });
    return message.value;
  }

  notify(method, params = {}) {
    if (!this.#dead) this.#endpoint.postMessage({ kind: "notify", method, params });
  }

  /** The other side is gone: reject what waits, refuse what comes. */
  fail(error) {
    this.#dead = error;
    this.#pending.rejectAll(error);
    for (const fn of this.#listeners.get("died") ?? []) fn(error);
  }

  get dead() {
    return this.#dead;
  }

  async #receive(message) {
    if (message?.kind === "response") {
      this.#pending.resolve(message);
    } else if (message?.kind === "notify") {
      for (const fn of this.#listeners.get(message.method) ?? []) fn(message.params);
    } else if (message?.kind === "request") {
      const { id, method, params } = message;
      const handler = this.#handlers.get(method);
      try {
        if (!handler) throw new Error(`no handler for ${method}`);
        const answer = await handler(params);
        const moved = answer?.[TRANSFER];
        this.#endpoint.postMessage({ kind: "response", id, ok: true, value: moved ? answer.value : answer }, moved ?? []);
      } catch (error) {
        this.#endpoint.postMessage({ kind: "response", id, ok: false,
          error: { name: error?.name ?? "Error", message: String(error?.message ?? error) } });
      }
    }
  }
}
