// Types of the wasm-agent JS API: `import { createAgent } from "wasm-agent"`.

/** What the runtime reports while it starts. */
export interface Progress {
  stage: "site" | "python" | "wheel" | "sandbox" | "ready" | string;
  /** What is happening, for people. */
  message: string;
  loaded?: number;
  total?: number;
  info?: RuntimeInfo;
}

/** What the agent worker and the sandbox reported once started. */
export interface RuntimeInfo {
  /** Whether generated code can run (false: `sandboxProblem` says why). */
  sandbox: boolean;
  sandboxProblem?: string;
  readyMs: number;
  [key: string]: unknown;
}

export type Provider = "openai" | "anthropic" | "gemini" | "browser" | "scripted";

export interface ModelOptions {
  /** "openai" is any OpenAI-compatible server; "browser" the in-browser model (when the runtime ships one). */
  provider: Provider;
  model?: string;
  baseUrl?: string;
  apiKey?: string;
  /** Provider "scripted": the model's answers, in order. */
  responses?: string[];
  /** Provider "browser": another GGUF, by URL or file. */
  modelUrl?: string;
  file?: File;
}

export type JsonSchemaType = "string" | "integer" | "number" | "boolean" | "array" | "object" | "any" | "null";

/** A JS tool: callable from the model's Python code like a Python tool; runs in the page. */
export interface Tool<Args extends Record<string, unknown> = Record<string, any>> {
  name: string;
  description: string;
  inputs?: Record<string, { type: JsonSchemaType; description: string; nullable?: boolean }>;
  outputType?: JsonSchemaType;
  fn: (args: Args) => unknown | Promise<unknown>;
}

export interface AgentOptions {
  model: ModelOptions;
  agentType?: "code" | "toolcalling";
  tools?: Tool[];
  /** Python sources whose `@tool` functions become tools (they run in the agent worker). */
  pythonTools?: string[];
  maxSteps?: number;
  /** Wall time of one code step, in seconds (default 30). */
  timeoutSeconds?: number;
  instructions?: string;
  /** Save runs step by step in IndexedDB (default true). */
  persist?: boolean;
  onProgress?: (progress: Progress) => void;
  /** The folder of the runtime's files (from `npx wasm-agent copy-assets DIR`) when a bundler moved this module. */
  assetsUrl?: string;
  [option: string]: unknown;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  [key: string]: unknown;
}

export type RunState = "success" | "max_steps_error" | "interrupted" | "error";

export interface RunResult {
  output: unknown;
  state: RunState;
  steps: number;
  tokenUsage?: TokenUsage | null;
  error?: { type?: string; message: string } | null;
  /** The saved run's id (unless `persist: false`). */
  runId?: string;
  [key: string]: unknown;
}

/** A run's events as they happen; the last one has `type: "result"`. */
export type AgentEvent =
  | ({ type: "result" } & RunResult)
  | { type: "delta" | "tool_call" | "tool_use" | "tool_output" | "step" | "planning" | "final_answer"; [key: string]: unknown };

export interface RunSummary {
  id: string;
  title: string;
  status: "running" | "interrupted" | "success" | "max_steps_error" | "error";
  /** Finished action steps. */
  steps: number;
  createdAt: number;
  updatedAt: number;
}

export interface Prices {
  inputPerMillion: number;
  outputPerMillion: number;
}

export declare class Agent {
  readonly id: number;
  readonly info: RuntimeInfo;
  lastResult?: RunResult;
  /** Run a task to its end. */
  run(task: string, options?: { reset?: boolean }): Promise<RunResult>;
  stream(task: string, options?: { reset?: boolean }): AsyncGenerator<AgentEvent, void, void>;
  /** Stop the running task (the code in the sandbox too); the agent stays usable. */
  interrupt(): Promise<unknown>;
  close(): Promise<void>;
  listRuns(): Promise<RunSummary[]>;
  /** Continue a saved run from its last finished step. */
  resume(runId: string): Promise<RunResult>;
  exportRun(runId: string): Promise<Record<string, unknown>>;
  importRun(data: Record<string, unknown>): Promise<unknown>;
  renameRun(runId: string, title: string): Promise<unknown>;
  deleteRun(runId: string): Promise<unknown>;
  /** The run as OTLP/JSON: `{ resourceSpans: [{ scopeSpans: [{ spans }] }] }`. */
  exportTrace(runId: string, options?: { modelId?: string; prices?: Prices }): Promise<Record<string, unknown>>;
  runTimeline(runId: string, options?: { modelId?: string; prices?: Prices }): Promise<{ rows: unknown[]; totals: unknown }>;
}

/** Create an agent whose loop runs in the agent worker and whose code runs in the sandbox. */
export declare function createAgent(options: AgentOptions): Promise<Agent>;

/** Start (once per page) the agent worker and the sandbox. */
export declare function startRuntime(options?: {
  onProgress?: (progress: Progress) => void;
  assetsUrl?: string;
}): Promise<{ info: RuntimeInfo; [key: string]: unknown }>;

/** Serve the runtime from a service worker so later visits work offline; false where that is not possible. */
export declare function enableOffline(options?: {
  onProgress?: (progress: unknown) => void;
  assetsUrl?: string;
}): Promise<boolean>;
