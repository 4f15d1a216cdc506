// The in-browser model: a GGUF run by wllama (llama.cpp in WebAssembly), offline, no key.
//
//   import { createBrowserModel } from "./browser-model.js";
//   const model = await createBrowserModel({ onProgress: (p) => bar.value = p.loaded / p.total });
//   for await (const event of model.stream({ messages, stop: ["</code>"] })) { … }
//
// Where it runs: wllama keeps llama.cpp in a worker of its own (spawned from
// here), so this module can live in the page or in the agent worker; the
// agent worker is where the site puts it, next to Pyodide, and hands
// `model.handle()` to Python (`wasm_agent.models.browser.BrowserModel`).
//
// Files (written by build/browser_model.py under the site folder `base`):
// wllama/index.js, wllama/wllama.wasm, wllama/compat/*, models/<default>.gguf.
// A URL model is cached by wllama in OPFS: the next visit, and offline use,
// read it from there without a request. A local file (file picker) is read as is.

/**
 * @typedef {{ phase: "download" | "load" | "ready", loaded: number, total: number }} ModelProgress
 * @typedef {{ role: "system" | "user" | "assistant", content: string }} ChatTurn
 * @typedef {{ messages: ChatTurn[], stop?: string[], maxTokens?: number, temperature?: number, seed?: number,
 *             options?: object }} GenerateRequest   // options: more llama-server sampling fields (e.g. ignore_eos)
 * @typedef {{ inputTokens: number, outputTokens: number, cachedTokens: number }} Usage
 * @typedef {{ type: "delta", text: string }
 *         | { type: "prompt", processed: number, total: number | null, cached: number | null }   // reading starts
 *         | { type: "done", text: string, finishReason: string, usage: Usage, timings: object | null,
 *             ttftMs: number | null, totalMs: number }} GenerateEvent
 * @typedef {{
 *   base?: string,            // folder holding wllama/ and models/ (default: this module's folder)
 *   modelUrl?: string,        // a GGUF URL (default: the model the site ships)
 *   file?: Blob,              // a local GGUF (a File from <input type=file>); wins over modelUrl
 *   nThreads?: number,        // default: defaultThreads() (cores less one when crossOriginIsolated, else 1)
 *   nCtx?: number,            // context length in tokens (default 4096)
 *   promptVariant?: string | null,  // "small" (compact prompts + few-shot) or null (full); default: "small" for the default model
 *   onProgress?: (p: ModelProgress) => void,
 * }} BrowserModelOptions
 */

export const DEFAULT_MODEL_FILE = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

// Stopping a generation aborts it; wllama's abort listener then fires its own cancel request
// with `void cancel()`, so that request's AbortError is left unhandled inside the library. That
// abort is the one we asked for: mark it handled, and only it.
globalThis.addEventListener?.("unhandledrejection", (event) => {
  const reason = event.reason;
  if (reason?.name === "AbortError" && reason?.message === "Operation aborted") event.preventDefault();
});
const DEFAULT_CTX = 4096;

/**
 * Threads for llama.cpp: one without cross-origin isolation (threads need SharedArrayBuffer; wllama
 * would silently fall back anyway); else the visitor's cores less one left free for the page, all of
 * them on one or two cores (measured: two threads read a prompt up to twice as fast as one on a
 * 2-core machine), at most 8 (wasm threads gain little beyond). wllama alone would take half.
 */
export function defaultThreads(isolated, cores) {
  if (!isolated) return 1;
  const n = Math.max(1, Math.floor(cores || 1));
  return Math.min(8, n <= 2 ? n : n - 1);
}

/** Load a model and return it ready to generate. */
export async function createBrowserModel(options = {}) {
  const base = new URL(options.base ?? "./", import.meta.url);
  const { Wllama } = await import(new URL("wllama/index.js", base).href);
  const isolated = globalThis.crossOriginIsolated === true;
  const nThreads = options.nThreads ?? defaultThreads(isolated, globalThis.navigator?.hardwareConcurrency);
  const wllama = new Wllama({ default: new URL("wllama/wllama.wasm", base).href }, {
    allowOffline: true,
    logger: { ...console, debug() {}, log() {}, info() {} },
  });
  // Browsers without memory64/JSPI need the compat build; ship it instead of wllama's CDN default.
  wllama.setCompat({ wasm: new URL("wllama/compat/wllama.wasm", base).href,
                     worker: new URL("wllama/compat/wllama.js", base).href });

  const progress = options.onProgress ?? (() => {});
  const isDefault = !options.file && !options.modelUrl;
  const url = options.file ? null : new URL(options.modelUrl ?? DEFAULT_MODEL_FILE, base).href;
  const loadParams = {
    n_threads: nThreads,
    n_gpu_layers: 0,          // CPU: WebGPU is absent or slower for models this small
    n_ctx: options.nCtx ?? DEFAULT_CTX,
    n_parallel: 1,            // one slot, so each request finds the previous one's tokens in its KV cache
    progressCallback: ({ loaded, total }) => progress({ phase: "download", loaded, total: total || loaded }),
  };
  const t0 = performance.now();
  try {
    if (options.file) {
      progress({ phase: "load", loaded: 0, total: options.file.size });
      await wllama.loadModel([options.file], loadParams);
    } else {
      // Cached in OPFS by URL: no request at all when the model is there (so offline works).
      await wllama.loadModelFromUrl(url, { ...loadParams, useCache: true });
    }
  } catch (error) {
    await wllama.exit().catch(() => {});  // its worker, and the memory it holds
    const hint = options.file ? "Is it a GGUF file?" : "Check the model's URL and the network, or choose another model.";
    throw new Error(`The in-browser model did not load (${options.file?.name ?? url}): ${error.message ?? error}. ${hint}`);
  }
  const info = {
    name: options.file?.name ?? (isDefault ? "SmolLM2-135M-Instruct (Q4_1)" : url.split("/").pop()),
    url,
    threads: wllama.getNumThreads(),
    multithread: wllama.isMultithread(),
    isolated,
    nCtx: loadParams.n_ctx,
    chatTemplate: Boolean(wllama.getChatTemplate()),
    promptVariant: options.promptVariant !== undefined ? options.promptVariant : (isDefault ? "small" : null),
    loadMs: Math.round(performance.now() - t0),
  };
  progress({ phase: "ready", loaded: 1, total: 1 });
  return new BrowserModel(wllama, info);
}

/**
 * Load a model and publish its handle where `wasm_agent.models.browser.BrowserModel()` finds it
 * (`globalThis.wasmAgentBrowserModel`): what the agent worker calls before building an agent on
 * `provider: "browser"`. The same source again reuses the loaded model (and its KV cache); another
 * one replaces it.
 */
export async function publishBrowserModel(options = {}) {
  const source = options.file ? `file:${options.file.name}:${options.file.size}:${options.file.lastModified}`
    : new URL(options.modelUrl ?? DEFAULT_MODEL_FILE, new URL(options.base ?? "./", import.meta.url)).href;
  const current = published;
  if (current && current.source === source) return current.loading;  // loaded, or loading: share it
  const loading = (async () => {
    if (current) await (await current.loading.catch(() => null))?.close();
    const model = await createBrowserModel(options);
    globalThis.wasmAgentBrowserModel = model.handle();
    return model;
  })();
  published = { source, loading };
  loading.catch(() => { if (published?.loading === loading) published = null; });  // a failed load can be retried
  return loading;
}

let published = null;  // { source, loading: Promise<BrowserModel> } of publishBrowserModel

/**
 * A GGUF file on Hugging Face: its download URL (`resolve/main`, which redirects to the file's CDN).
 * The official Qwen GGUF repos name their files `<repo name in lower case, less -GGUF>-<quant>.gguf`.
 */
export function huggingFaceGguf(repo, quant) {
  const file = `${repo.split("/")[1].replace(/-GGUF$/, "").toLowerCase()}-${quant.toLowerCase()}.gguf`;
  return `https://huggingface.co/${repo}/resolve/main/${file}`;
}

/**
 * Models known to work here, offered in the site's settings: downloaded only when a visitor picks one
 * (from the model's public URL, then kept in OPFS by wllama). The default stays the bundled model.
 * Sizes are the files' byte counts in the upstream repos.
 */
export const KNOWN_MODELS = [
  { id: "qwen2.5-coder-0.5b", name: "Qwen2.5-Coder 0.5B Instruct (Q4_K_M)", bytes: 491_400_064, licence: "Apache-2.0",
    url: huggingFaceGguf("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "Q4_K_M"),
    can: "short Python for simple tasks; about 4× slower than the bundled model" },
  { id: "qwen2.5-coder-1.5b", name: "Qwen2.5-Coder 1.5B Instruct (Q4_K_M)", bytes: 1_117_320_768, licence: "Apache-2.0",
    url: huggingFaceGguf("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", "Q4_K_M"),
    can: "real multi-step code tasks; about 12× slower, for a fast machine" },
];

/** The models wllama keeps in OPFS: `[{url, bytes}]`. */
export async function cachedModels() {
  const { ModelManager } = await import(new URL("wllama/index.js", import.meta.url).href);
  return (await new ModelManager().getModels()).map((model) => ({ url: model.url, bytes: model.size }));
}

/** Forget the cached weights of `url` (or of every model when no URL is given). */
export async function clearCachedModels(url) {
  const { ModelManager } = await import(new URL("wllama/index.js", import.meta.url).href);
  const manager = new ModelManager();
  if (url === undefined) return manager.clear();
  for (const model of await manager.getModels()) if (model.url === url) await model.remove();
}

export class BrowserModel {
  constructor(wllama, info) {
    this.wllama = wllama;
    this.info = info;
    this._queue = Promise.resolve();  // one generation at a time: they share the one KV-cache slot
    this.onPromptProgress = null;  // (event) => …: the prompt is being read, for a UI (the agent worker)
  }

  /**
   * Generate an answer to `request.messages` (the model's chat template applies), token by token.
   * Temperature 0 (the default) is greedy decoding: the same messages give the same text.
   * @param {GenerateRequest} request
   * @param {AbortSignal} [signal]
   * @returns {AsyncGenerator<GenerateEvent>}
   */
  async *stream(request, signal) {
    let release;
    const previous = this._queue;
    this._queue = new Promise((resolve) => { release = resolve; });
    await previous;
    try {
      yield* this._generate(request, signal);
    } finally {
      release();
    }
  }

  async *_generate(request, signal) {
    const t0 = performance.now();
    // llama.cpp reads the whole prompt before the first token (seconds on a small machine). Its own
    // progress (return_progress) comes only when the reading is over, so this says when it starts.
    const reading = { type: "prompt", processed: 0, total: null, cached: null };
    this.onPromptProgress?.(reading);
    yield reading;
    const stop = (request.stop ?? []).filter(Boolean);
    const chunks = await this.wllama.createChatCompletion({
      ...request.options,
      messages: request.messages.map(({ role, content }) => ({ role, content: content ?? "" })),
      stream: true,
      stop,                    // works, though wllama's type lacks it
      max_tokens: request.maxTokens ?? 512,
      temperature: request.temperature ?? 0,
      seed: request.seed ?? 0,
      cache_prompt: true,      // keep the slot's KV cache: the next step pays only for its new tokens
      ...(signal ? { abortSignal: signal } : {}),
    });
    let text = "", finishReason = null, timings = null, usage = null, ttftMs = null;
    for await (const chunk of chunks) {
      const choice = chunk.choices?.[0];
      const piece = choice?.delta?.content;
      if (piece) {
        ttftMs ??= performance.now() - t0;
        text += piece;
        yield { type: "delta", text: piece };
      }
      finishReason = choice?.finish_reason ?? finishReason;
      timings = chunk.timings ?? timings;
      usage = chunk.usage ?? usage;  // absent when the stream ends on a stop string; timings still come
    }
    const cached = timings?.cache_n ?? usage?.prompt_tokens_details?.cached_tokens ?? 0;
    yield {
      type: "done", text, finishReason: finishReason ?? "stop", timings, ttftMs,
      totalMs: performance.now() - t0,
      usage: {
        inputTokens: timings ? timings.prompt_n + timings.cache_n : (usage?.prompt_tokens ?? 0),
        outputTokens: timings?.predicted_n ?? usage?.completion_tokens ?? 0,
        cachedTokens: cached,
      },
    };
  }

  /** The whole answer at once: the last event of `stream`. */
  async complete(request, signal) {
    let last = null;
    for await (const event of this.stream(request, signal)) last = event;
    return last;
  }

  /**
   * The small object Python holds (`BrowserModel(handle)` in wasm_agent.models.browser):
   * plain strings across the boundary, so no proxy outlives a call.
   *   handle.info()            -> JSON of `info`
   *   handle.stream(json)      -> { next(): Promise<JSON event | undefined>, cancel() }
   * (undefined, not null, at the end: Pyodide turns undefined into None, null into jsnull)
   */
  handle() {
    return {
      info: () => JSON.stringify(this.info),
      stream: (requestJson) => {
        const controller = new AbortController();
        const events = this.stream(JSON.parse(requestJson), controller.signal);
        let cancelled = false;
        return {
          next: async () => {
            try {
              const { value, done } = await events.next();
              return done ? undefined : JSON.stringify(value);
            } catch (error) {
              if (cancelled) return undefined;  // the abort we asked for: the stream just ends
              throw error;
            }
          },
          // A cancelled caller no longer awaits next(): the abort must not surface as an unhandled rejection.
          cancel: () => {
            cancelled = true;
            controller.abort();
            events.return(undefined).catch(() => {});
          },
        };
      },
    };
  }

  async close() {
    await this.wllama.exit();
  }
}
