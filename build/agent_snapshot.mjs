// Makes the agent worker's Pyodide memory snapshot, in Deno (a snapshot that Deno makes loads in
// Chromium; ENVIRONMENT.md). build/site.py runs it:
//
//   deno run --allow-read=<pyodide dir> --allow-write=<out> build/agent_snapshot.mjs <pyodide dir> <out>
//
// The snapshot holds Python started, with the standard modules that wasm_agent uses imported.
// Not wasm_agent itself: files are not part of a snapshot (they live in JS, not in wasm memory),
// and a package imported before it does not see the files that the worker installs afterwards.

const [pyodideDir, outPath] = Deno.args;
const { loadPyodide } = await import(new URL(`file://${pyodideDir}/pyodide.mjs`).href);
const pyodide = await loadPyodide({ indexURL: `${pyodideDir}/`, _makeSnapshot: true, stdout: () => {}, stderr: () => {} });
pyodide.runPython(`
import asyncio, contextvars, dataclasses, email.parser, enum, functools, importlib.resources, inspect, json
import keyword, math, re, statistics, textwrap, time, tomllib, types, typing, uuid
`);
await Deno.writeFile(outPath, pyodide.makeMemorySnapshot());
