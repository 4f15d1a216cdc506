// Wheels in the browser: fetched from the site's own folder and checked
// against the lock's sha256 (for the agent worker and the sandbox alike), and
// read (a few text files out of the zip) so that the sandbox gets the runner
// modules from the same wasm_agent wheel the agent worker installs.

/**
 * The bytes of a wheel; with `sha256`, checked against it (Pyodide's own check would only say
 * "Failed to fetch"). With `cacheName`, kept in that Cache Storage cache (a package distribution's
 * wheels: fetched once, then offline); a cached copy is checked like a fetched one.
 * @param {string} url
 * @param {string} [sha256] hex digest from the lock file
 * @param {{cacheName?: string}} [options]
 * @returns {Promise<ArrayBuffer>}
 */
export async function fetchWheel(url, sha256, { cacheName } = {}) {
  const name = new URL(url, globalThis.location?.href).pathname.split("/").pop();
  const cache = cacheName && globalThis.caches ? await caches.open(cacheName).catch(() => null) : null;
  const cached = await cache?.match(url).catch(() => undefined);
  const response = cached ?? await fetch(url);
  if (!response.ok) {
    const where = cacheName ? "the package distribution" : "the site's wheel folder";
    throw new Error(`the package ${name} is not in ${where} (${url}: HTTP ${response.status})`);
  }
  const bytes = await response.arrayBuffer();
  if (sha256 !== undefined && await sha256Hex(bytes) !== sha256) {
    if (cached) { // a damaged cache entry: drop it and fetch again
      await cache.delete(url);
      return fetchWheel(url, sha256, { cacheName });
    }
    throw new Error(`${name} does not match the lock file's sha256 (${cacheName
      ? "the package distribution's file differs from the one this Pyodide pins: refused" : "rebuild the site"})`);
  }
  if (cache && !cached) await cache.put(url, new Response(bytes.slice(0))).catch(() => {});
  return bytes;
}

async function sha256Hex(bytes) {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** True for a wheel built for Pyodide's Python (WebAssembly, from its package distribution). */
export function isPyodideWheel(fileName) {
  return /-cp\d+-(cp\d+|abi3)-(py)?emscripten_[a-z0-9_]*_wasm32\.whl$/.test(fileName);
}

/** True for a wheel any Python 3 can unpack and import: tagged py3 (or py2.py3), none, any. */
export function isPurePythonWheel(fileName) {
  const match = /-([^-]+)-none-any\.whl$/.exec(fileName);
  return match !== null && match[1].split(".").some((tag) => /^py3\d*$/.test(tag));
}

/**
 * @param {ArrayBuffer} buffer the wheel
 * @param {(path: string) => boolean} wanted which member paths to return
 * @returns {Promise<Record<string, string>>} path -> text
 */
export async function readWheelTexts(buffer, wanted) {
  const view = new DataView(buffer);
  const end = findEndOfCentralDirectory(view);
  const count = view.getUint16(end + 10, true);
  let entry = view.getUint32(end + 16, true);
  const decoder = new TextDecoder();
  const texts = {};
  for (let i = 0; i < count; i += 1) {
    if (view.getUint32(entry, true) !== 0x02014b50) throw new Error("the wheel's zip directory is damaged");
    const method = view.getUint16(entry + 10, true);
    const compressedSize = view.getUint32(entry + 20, true);
    const nameLength = view.getUint16(entry + 28, true);
    const extraLength = view.getUint16(entry + 30, true);
    const commentLength = view.getUint16(entry + 32, true);
    const localHeader = view.getUint32(entry + 42, true);
    const name = decoder.decode(new Uint8Array(buffer, entry + 46, nameLength));
    entry += 46 + nameLength + extraLength + commentLength;
    if (!wanted(name)) continue;
    const dataStart = localHeader + 30 + view.getUint16(localHeader + 26, true) + view.getUint16(localHeader + 28, true);
    const raw = new Uint8Array(buffer, dataStart, compressedSize);
    texts[name] = decoder.decode(method === 0 ? raw : await inflate(raw));
  }
  return texts;
}

function findEndOfCentralDirectory(view) {
  for (let offset = view.byteLength - 22; offset >= Math.max(0, view.byteLength - 65557); offset -= 1) {
    if (view.getUint32(offset, true) === 0x06054b50) return offset;
  }
  throw new Error("not a zip file (is the wheel URL right?)");
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
