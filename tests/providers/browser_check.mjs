// Loads Pyodide (node_modules, served by the test), copies the wasm_agent sources
// listed in /_manifest.json into its file system, runs fetch_scenarios.py with
// argv = [mock URL, no-CORS mock URL], and leaves the printed JSON in window.result
// (or the error in window.failure).

import { loadPyodide } from "/node_modules/pyodide/pyodide.mjs";

const params = new URLSearchParams(location.search);
try {
  const pyodide = await loadPyodide({ indexURL: "/node_modules/pyodide/" });
  const files = await (await fetch("/_manifest.json")).json();
  for (const file of files) {
    const target = `/home/pyodide/src/${file}`;
    pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
    pyodide.FS.writeFile(target, await (await fetch(`/${file}`)).text());
  }
  let printed = "";
  pyodide.setStdout({ batched: (line) => { printed += line + "\n"; } });
  const script = await (await fetch("/tests/providers/fetch_scenarios.py")).text();
  const globals = pyodide.toPy({ argv: [params.get("mock"), params.get("nocors")] });
  await pyodide.runPythonAsync(`import sys; sys.path.insert(0, "/home/pyodide/src")\n${script}`, { globals });
  window.result = printed.trim().split("\n").pop();
} catch (error) {
  window.failure = String(error?.message ?? error);
}
