// The agent in Deno: a CodeAgent run from the command line, with the same Python session as the
// browser's agent worker (wasm_agent/platform/browser_agent.py), its code run in a sandbox
// worker without permissions (deno/sandbox_workers.js), its steps printed as they come.
//
//   deno run --no-prompt --no-config --no-lock --no-remote --unstable-worker-options \
//     --allow-read=<site>/pyodide,<site>/build.json,<site>/providers.json,<site>/agent.snapshot,<site>/sandbox.snapshot,<repo>/deno,<repo>/web \
//     --allow-net=api.openai.com:443 --allow-env=OPENAI_API_KEY \
//     --deny-write --deny-run --deny-ffi --deny-sys --deny-import \
//     deno/agent.js "What is 17 * 23?" --provider openai --model gpt-4o-mini --key-env OPENAI_API_KEY
//
// `python -m wasm_agent deno …` builds the site when it is stale and composes exactly this
// command (`--verbose` prints it). The key is read from the variable `--key-env` names, never
// from the command line. Steps go to stdout; progress and errors to stderr. Exit code 0 when the
// run ends with a final answer, 1 when it does not, 2 for a usage or setup error.

import { parseArgs } from "node:util";
import { answerToolCall, installImports, startAgentPython } from "../web/agent-python.js";
import { loadSandboxAssets } from "../web/sandbox-frame.js";
import { SandboxClient } from "../web/sandbox-client.js";
import { openSandboxPort } from "./sandbox_workers.js";

const USAGE = `usage: deno run <permissions> deno/agent.js TASK --provider NAME --model MODEL
  [--api-base URL] [--key-env VARIABLE] [--tools FILE.py]... [--imports MODULE]... [--mcp URL]... [--agent-type code|toolcalling]
  [--max-steps N] [--timeout SECONDS] [--site DIR] [--packages-url URL --packages-lock FILE]`;
const AGENT_TYPES = ["code", "toolcalling"];
// An interrupted step's code has this long to stop before its worker is replaced (SandboxClient's grace);
// a worker's thread ends the code itself a second after that (its hard limit), interrupt or not.
const GRACE_MS = 1500;
const HARD_LIMIT_AFTER_GRACE_MS = 1000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

class UsageError extends Error {}

const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
const progress = (message) => console.error(`[${seconds()} s] ${message}`);

/** The command line, checked; the API key read from the variable it names. */
function readArguments(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        provider: { type: "string", default: "openai" },
        model: { type: "string" },
        "api-base": { type: "string" },
        "key-env": { type: "string" },
        tools: { type: "string", multiple: true, default: [] },
        imports: { type: "string", multiple: true, default: [] },
        mcp: { type: "string", multiple: true, default: [] },
        "agent-type": { type: "string", default: "code" },
        "max-steps": { type: "string", default: "10" },
        timeout: { type: "string", default: "30" },
        site: { type: "string" },
        "packages-url": { type: "string" },
        "packages-lock": { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("give the task as one argument (quote it)");
  if (!values.model) throw new UsageError("--model is required (the provider's model name)");
  if (!AGENT_TYPES.includes(values["agent-type"])) throw new UsageError(`--agent-type must be one of ${AGENT_TYPES.join(", ")}`);
  const maxSteps = Number(values["max-steps"]);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(maxSteps) || maxSteps < 1) throw new UsageError("--max-steps must be a positive integer");
  if (!(timeout > 0)) throw new UsageError("--timeout must be a positive number of seconds");
  if (Boolean(values["packages-url"]) !== Boolean(values["packages-lock"])) {
    throw new UsageError("--packages-url and --packages-lock go together (the lock that pins the distribution)");
  }
  return { task: positionals[0], provider: values.provider, model: values.model, apiBase: values["api-base"] ?? null,
    apiKey: readKey(values["key-env"], values["api-base"]), keyEnv: values["key-env"] ?? null,
    tools: values.tools, imports: values.imports, mcp: values.mcp, agentType: values["agent-type"], maxSteps, timeout,
    siteUrl: values.site ? folderUrl(values.site) : new URL("../dist/", import.meta.url),
    packages: values["packages-url"] ? { url: new URL(values["packages-url"].replace(/\/?$/, "/")),
      lockUrl: fileUrl(values["packages-lock"]) } : undefined };
}

function readKey(name, apiBase) {
  if (name === undefined) {
    if (!apiBase) throw new UsageError("no API key: name the environment variable that holds it with --key-env");
    return null; // a local server (Ollama, llama.cpp…) may need none
  }
  if (!ENV_NAME.test(name)) throw new UsageError(`--key-env ${JSON.stringify(name)} is not an environment variable name`);
  let key;
  try {
    key = Deno.env.get(name);
  } catch {
    throw new UsageError(`Deno may not read ${name}: start it with --allow-env=${name}`);
  }
  if (!key) throw new UsageError(`the environment variable ${name} (--key-env) is not set or empty`);
  return key;
}

function fileUrl(path) {
  return new URL(`file://${path.startsWith("/") ? path : `${Deno.cwd()}/${path}`}`);
}

function folderUrl(path) {
  return fileUrl(path.replace(/\/?$/, "/"));
}

/** Fail early, in one line, when Deno may not reach the model's server (Python would only see a failed fetch). */
function checkNetPermission(apiBase) {
  const url = new URL(apiBase);
  const host = `${url.hostname}:${url.port || (url.protocol === "https:" ? 443 : 80)}`;
  if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
    throw new UsageError(`Deno may not connect to ${host} (the model's server): start it with --allow-net=${host}`);
  }
}

/** Pyodide in a permissionless worker, from the site's files; a SandboxClient drives it. `onStuck`: a worker
 * was ended while its code ran on where its hard limit does not reach (it awaited a promise first). */
async function startSandbox(siteUrl, manifest, { onToolCall, timeoutSeconds, onStuck }) {
  const assets = await loadSandboxAssets({
    base: new URL("../web/", import.meta.url).href,
    pyodide: new URL("pyodide/", siteUrl).href,
    wheel: new URL(manifest.wheel, siteUrl).href,
    snapshot: manifest.sandboxSnapshot ? new URL(manifest.sandboxSnapshot, siteUrl).href : undefined,
  });
  const { workerSource: _browserWorker, modules: _browserModules, ...boot } = assets.boot;
  const pyodideURL = new URL("pyodide/", siteUrl);
  if (pyodideURL.protocol === "file:") { // workers import Pyodide's JS from there (compiled once, in Deno's code cache)
    Object.assign(boot, { pyodideURL: pyodideURL.href, pyodideSource: undefined, asmSource: undefined });
  }
  const stopCodeAfterMs = timeoutSeconds * 1000 + GRACE_MS + HARD_LIMIT_AFTER_GRACE_MS;
  return new SandboxClient(openSandboxPort(boot, { memoryMb: 1024, stopCodeAfterMs, onStuck }), {
    onToolCall,
    graceMs: GRACE_MS,
    wireValues: true, // Python runs the tools and reads the results: it reads the markers
    onEvent: (event) => {
      if (event.type === "crashed" || event.type === "restarted") progress(`sandbox ${event.type}: ${event.reason}`);
      else if (event.type === "log") progress(`sandbox: ${event.text}`);
    },
  });
}

async function main() {
  const args = readArguments(Deno.args);
  const manifestUrl = new URL("build.json", args.siteUrl);
  const manifest = await fetch(manifestUrl).then((response) => response.json()).catch((error) => {
    throw new UsageError(`no built site at ${args.siteUrl.pathname} (${error.message}): run \`python -m wasm_agent build\``);
  });
  // The provider registry (wasm_agent/providers.json, copied into the site): the HTTP ones run here.
  const providers = await fetch(new URL("providers.json", args.siteUrl)).then((response) => response.json());
  const remote = Object.keys(providers).filter((name) => providers[name].baseUrl !== null);
  if (!remote.includes(args.provider)) throw new UsageError(`--provider must be one of ${remote.join(", ")}`);
  const pythonTools = await Promise.all(args.tools.map((path) => Deno.readTextFile(path)));

  let session = null;
  let sandbox = null; // a tool-calling agent runs no code: no sandbox
  // A step's code that neither stopped nor can be ended: its thread spins until this process ends, so the
  // run ends after that step (exiting ends the thread), rather than going on beside a busy core.
  let stuck = false;
  let closing = false;
  const onStuck = () => {
    if (stuck || closing) return;
    stuck = true;
    progress("The step's code could not be ended (it had awaited a promise, and the worker's hard limit does not reach "
      + "past that): its thread may keep a CPU core busy until this process ends, so the run ends after this step");
    session?.interrupt();
  };
  if (args.agentType === "code") {
    progress("Starting the sandbox (Pyodide in a worker without permissions)");
    sandbox = await startSandbox(args.siteUrl, manifest, {
      onToolCall: (name, toolArgs, kwargs) => answerToolCall(session, name, toolArgs, kwargs),
      timeoutSeconds: args.timeout,
      onStuck,
    });
    sandbox.ready().then((ready) => progress(`Sandbox ready (${ready.snapshot ? "memory snapshot" : "cold start"}; `
      + `its Pyodide started in ${(ready.startup_ms / 1000).toFixed(1)} s)`), () => {});
  }
  const python = await startAgentPython(args.siteUrl, {
    progress: (_stage, { message }) => progress(message),
    stderr: (text) => console.error(text),
  });
  const { pyodide } = python;
  progress(`Python ready${python.snapshot ? " (memory snapshot)" : " (cold start)"}`);
  const stdout = Deno.stdout;
  pyodide.setStdout({
    write: (bytes) => {
      for (let offset = 0; offset < bytes.length;) offset += stdout.writeSync(bytes.subarray(offset));
      return bytes.length;
    },
    isatty: stdout.isTerminal(),
  });

  if (sandbox && args.imports.length) {
    progress(`Installing ${args.imports.join(", ")} in the sandbox`);
    await installImports(pyodide, sandbox, args.siteUrl, args.imports, args.packages).catch((error) => {
      throw new UsageError(error.message);
    });
  }
  const options = {
    agentType: args.agentType, maxSteps: args.maxSteps, pythonTools, stream: true, timeoutSeconds: args.timeout,
    additionalAuthorizedImports: args.imports,
    model: { provider: args.provider, model: args.model, baseUrl: args.apiBase, apiKey: args.apiKey,
      keySource: args.keyEnv ? `the ${args.keyEnv} environment variable, named by --key-env` : "--key-env" },
  };
  const { AgentSession, open_mcp_servers: openMcpServers } = pyodide.pyimport("wasm_agent.platform.browser_agent");
  let mcp;
  if (args.mcp.length) {
    progress(`Connecting to ${args.mcp.join(", ")}`);
    mcp = await openMcpServers(JSON.stringify(args.mcp.map((url) => ({ url }))));
  }
  session = AgentSession(JSON.stringify(options), null, sandbox, mcp);
  checkNetPermission(session.agent.model.api_base);
  progress("Agent ready");
  // Ctrl+C stops the step under way (the run ends "interrupted", its steps printed); a second one quits.
  let interrupted = false;
  Deno.addSignalListener("SIGINT", () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    progress("Interrupting the run (Ctrl+C again quits at once)");
    session.interrupt();
  });
  let code;
  try {
    code = await pyodide.pyimport("wasm_agent.cli").run_session(session, args.task);
  } finally {
    closing = true;
    sandbox?.close();
  }
  if (stuck) {
    console.error("error: the run was ended after a step whose code ignored its interrupt and could not be ended "
      + "while this process runs (its steps are above; the code stops as the process exits). Run the task again, "
      + "with a larger --timeout if that step only needed more time.");
    return 1;
  }
  return code;
}

try {
  Deno.exit(await main());
} catch (error) {
  const usage = error instanceof UsageError;
  // A Python error's message is its traceback: its last line says what happened.
  const message = String(error?.message ?? error).trim().split("\n").pop();
  console.error(`error: ${message}`);
  if (usage && /^(--|give the task|Unexpected argument|Unknown option)/.test(message)) console.error(USAGE);
  Deno.exit(usage ? 2 : 1);
}
