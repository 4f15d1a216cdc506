// Runs pytest inside the Pyodide of node_modules, under Node.
//
//   node tests/pyodide/run.mjs WHEEL... -- [PYTEST_ARGS]
//
// run.py prepares the wheels (pytest & co for Python 3.14, wasm_agent) and
// calls this; see README.md. Exits with pytest's exit code.
//
// async tests block through JSPI (pyodide.ffi.run_sync), so pytest is entered
// with runPythonAsync, in a runtime with WebAssembly stack switching. Node 20
// has it behind a V8 flag (its older API, WebAssembly.Suspender, which Pyodide
// 314 supports): without JSPI this script starts itself again with the flag.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");

if (!hasJSPI()) {
  process.exit(restartWithJSPI());
}

const { loadPyodide } = await import("pyodide");
const separator = process.argv.indexOf("--");
const wheels = process.argv.slice(2, separator < 0 ? undefined : separator);
const pytestArgs = separator < 0 ? [] : process.argv.slice(separator + 1);
if (process.stdout.isTTY && !pytestArgs.some((arg) => arg.startsWith("--color"))) {
  pytestArgs.push("--color=yes");
}

const pyodide = await loadPyodide({
  indexURL: path.dirname(fileURLToPath(import.meta.resolve("pyodide"))) + path.sep,
  env: { HOME: "/home/pyodide", COLUMNS: String(process.stdout.columns || 100) },
});
pyodide.setStdout({ write: writer(1) });
pyodide.setStderr({ write: writer(2) });

// The wheels are copied in; the repo is mounted at its own path, so that
// paths in tracebacks and test ids are the same as in the CPython run.
pyodide.FS.mkdirTree("/tmp/wheels");
const wheelPaths = wheels.map((wheel) => {
  const target = `/tmp/wheels/${path.basename(wheel)}`;
  pyodide.FS.writeFile(target, fs.readFileSync(wheel));
  return target;
});
pyodide.FS.mkdirTree(REPO);
pyodide.mountNodeFS(REPO, REPO);

const globals = pyodide.toPy({ wheels: wheelPaths, repo: REPO, args: pytestArgs });
try {
  await pyodide.runPythonAsync(fs.readFileSync(path.join(HERE, "pytest_main.py"), "utf8"), { globals });
} catch (error) {
  // A Python error outside the tests: its traceback is the message; Node's own dump is noise.
  console.error(error.message ?? error);
  process.exit(3); // pytest's "internal error"
}
process.exit(globals.get("exit_code"));

function hasJSPI() {
  return typeof WebAssembly.Suspending === "function" || typeof WebAssembly.Suspender === "function";
}

function restartWithJSPI() {
  const v8Options = spawnSync(process.execPath, ["--v8-options"], { encoding: "utf8" }).stdout;
  const flag = ["--experimental-wasm-jspi", "--experimental-wasm-stack-switching"]
    .find((name) => v8Options.includes(name));
  if (!flag || process.env.WASM_AGENT_JSPI_RESTARTED) {
    console.error(`run.mjs: Node ${process.version} has no JSPI (WebAssembly stack switching); use Node >= 20`);
    return 1;
  }
  const child = spawnSync(process.execPath, [flag, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, WASM_AGENT_JSPI_RESTARTED: "1" },
  });
  return child.status ?? 1;
}

/** A Pyodide raw writer to a file descriptor; blocking, so nothing is lost at process.exit. */
function writer(fd) {
  return (bytes) => {
    let written = 0;
    while (written < bytes.length) {
      try {
        written += fs.writeSync(fd, bytes, written);
      } catch (error) {
        if (error.code !== "EAGAIN") throw error;
      }
    }
    return bytes.length;
  };
}
