// "Download site": a zip of a complete static site that opens directly on a project's agent.
//
//   const { blob, files, bytes, notes } = await siteZip(project, { onProgress });
//
// The runtime files are the ones this site runs from, as its build.json lists them (fetched through
// the service worker, so from its cache when offline); site.json and tools/ are the project's, made in
// the agent worker by wasm_agent/site_config.py, the code `wasm-agent build --config project.json` runs:
// the same files for the same agent. No key is in it: a project has no field for one. Any static host
// serves the unzipped folder; without COOP/COEP headers the sandbox runs in its JSPI mode.

import { projectSiteFiles } from "../agent-client.js";
import { checkProject } from "./project.js";
import { crc32, zipFiles } from "./zip.js";

const SITE_ROOT = new URL("../", import.meta.url); // this module lives in <site>/playground/

/**
 * The zip of the site for `project`.
 * @param {object} project
 * @param {{onProgress?: (progress: {message: string, loaded: number, total: number}) => void, root?: URL,
 *   siteFiles?: (project: object) => Promise<Record<string, string>>}} [options]  `siteFiles`: the project's
 *   site.json and tools/ by path (default: from the agent worker)
 * @returns {Promise<{blob: Blob, files: number, bytes: number, notes: string[]}>}
 */
export async function siteZip(project, { onProgress = () => {}, root = SITE_ROOT, siteFiles = projectSiteFiles } = {}) {
  onProgress({ message: "Making the agent's site.json in the agent worker", loaded: 0, total: 0 });
  const own = await siteFiles(checkProject(project));
  const manifest = await fetchOk(new URL("build.json", root)).then((response) => response.json());
  // The runtime: every file of this build, except this site's own agent (site.json, tools/).
  const runtime = Object.entries(manifest.files).filter(([path]) => path !== "site.json" && !path.startsWith("tools/"));
  const notes = [];
  const onDemand = manifest.browserModel?.files ?? []; // the in-browser model's weights: not in the offline cache
  const total = runtime.reduce((sum, [, size]) => sum + size, 0);
  let loaded = 0;
  const fetched = new Map();
  const queue = [...runtime];
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const [path, size] = item;
      fetched.set(path, await fetchOk(new URL(path, root)).then((response) => response.blob()));
      loaded += size;
      onProgress({ message: "Collecting the site's files", loaded, total });
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  const model = new Map();
  try {
    for (const path of onDemand) {
      onProgress({ message: `Collecting the in-browser model (${path})`, loaded, total });
      model.set(path, await fetchOk(new URL(path, root)).then((response) => response.blob()));
    }
  } catch {
    model.clear();
    if (onDemand.length) notes.push("The in-browser model's files could not be fetched (offline?): the site is "
      + "made without it, and its visitors choose a provider.");
  }
  if (model.size) {
    const bytes = manifest.browserModel.bytes ?? [...model.values()].reduce((sum, blob) => sum + blob.size, 0); // the weights
    notes.push(`It includes the in-browser model${manifest.browserModel.name ? ` ${manifest.browserModel.name}` : ""} `
      + `(${(bytes / 1e6).toFixed(1)} MB): its visitors can use it with no key.`);
  }
  const files = { ...Object.fromEntries(runtime.map(([path]) => [path, fetched.get(path)])) };
  for (const [path, text] of Object.entries(own)) files[path] = new Blob([text]);
  const sizes = Object.fromEntries(Object.entries(files).filter(([path]) => !onDemand.includes(path))
    .map(([path, blob]) => [path, blob.size]).sort(([a], [b]) => (a < b ? -1 : 1)));
  const built = {
    ...manifest,
    version: await versionOf(manifest.version, own), // a new site: a cache of its own in the service worker
    browserModel: model.size ? manifest.browserModel : null,
    configured: true,
    files: sizes,
    bytes: Object.values(sizes).reduce((sum, size) => sum + size, 0),
  };
  for (const [path, blob] of model) files[path] = blob;
  files["build.json"] = new Blob([`${JSON.stringify(built, null, 1)}\n`]);
  onProgress({ message: "Writing the zip", loaded: total, total });
  const entries = Object.keys(files).sort().map((name) => ({ name, data: files[name] }));
  const blob = await zipFiles(entries);
  return { blob, files: entries.length, bytes: blob.size, notes };
}

/** Save the project's site as `<name>-site.zip` (the browser's download). */
export async function downloadSite(project, options) {
  const result = await siteZip(project, options);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(result.blob);
  link.download = `${slug(project.name)}-site.zip`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return result;
}

const slug = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "agent";

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  return response;
}

async function versionOf(base, own) {
  const text = [base, ...Object.entries(own).flat()].join("\0");
  if (!crypto.subtle) return `${base.slice(0, 8)}${crc32(new TextEncoder().encode(text)).toString(16).padStart(8, "0")}`; // plain http
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest.slice(0, 8), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
