// Runs a Python file inside the Pyodide of node_modules, under Node or Deno, with the repo's
// sources importable: the provider models then talk through the real `fetch` transport.
//
//   node tests/providers/run_in_pyodide.mjs SCRIPT.py [ARG...]
//
// The script gets `argv` (the ARGs) as a global and runs with top-level await;
// what it prints reaches stdout. Exit code 1 when it raises.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const [script, ...args] = process.argv.slice(2);

const { loadPyodide } = await import("pyodide");
const pyodide = await loadPyodide({
  indexURL: path.dirname(fileURLToPath(import.meta.resolve("pyodide"))) + path.sep,
});
pyodide.FS.mkdirTree(REPO);
pyodide.mountNodeFS(REPO, REPO);
const globals = pyodide.toPy({ argv: args, repo: REPO });
try {
  await pyodide.runPythonAsync(
    `import sys; sys.dont_write_bytecode = True; sys.path.insert(0, repo)\n` + fs.readFileSync(script, "utf8"),
    { globals, filename: script },
  );
} catch (error) {
  console.error(error.message ?? error);
  process.exit(1);
}
process.exit(0);
