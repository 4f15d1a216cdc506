#!/usr/bin/env node
// `npx wasm-agent copy-assets DIR`: copies the runtime (agent worker, sandbox page, Pyodide, the wheel,
// the UI) into DIR, a folder your web server or bundler publishes as is (public/, static/, …).
// Then point the API at it: createAgent({ assetsUrl: "/wasm-agent/", … }), or <wasm-agent assets-url="/wasm-agent/">.
import { cpSync, existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const RUNTIME = join(dirname(fileURLToPath(import.meta.url)), "..", "runtime");
const USAGE = `usage: wasm-agent copy-assets DIR   copy the runtime files into DIR (e.g. public/wasm-agent/)
       wasm-agent runtime-dir         print the folder of the runtime files in this package`;

function folderBytes(folder) {
  return readdirSync(folder, { recursive: true })
    .map((name) => statSync(join(folder, name)))
    .reduce((sum, stat) => sum + (stat.isFile() ? stat.size : 0), 0);
}

const [command, target, ...rest] = process.argv.slice(2);
if (command === "runtime-dir" && !target) {
  console.log(RUNTIME);
} else if (command === "copy-assets" && target && !rest.length) {
  const destination = resolve(target);
  if (existsSync(destination) && !statSync(destination).isDirectory()) {
    console.error(`wasm-agent: ${destination} is a file, not a folder`);
    process.exit(2);
  }
  cpSync(RUNTIME, destination, { recursive: true });
  console.log(`copied the wasm-agent runtime (${(folderBytes(RUNTIME) / 1e6).toFixed(1)} MB) to ${destination}`);
  console.log('serve it with your site, then: createAgent({ assetsUrl: "<its URL>/", model: { … } })');
} else {
  console.error(USAGE);
  process.exit(command === "--help" || command === "-h" ? 0 : 2);
}
