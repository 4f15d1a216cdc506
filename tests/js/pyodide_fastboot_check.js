// Pyodide with the fast-boot patches (wasm_agent/executor/pyodide_fastboot.py) links exactly as the original:
// the same table (every slot holds the same wasm function, by its index) and the same global offset table
// (every symbol, in order, with its value). And a snapshot copied without its zero pages gives the same
// interpreter memory as one copied whole. Run by tests/unit/test_pyodide_fastboot.py:
//
//   deno run --allow-read=<both folders> tests/js/pyodide_fastboot_check.js <original dir> <patched dir>
//
// Prints one JSON line: what was compared, and every difference found (none when they link the same).

const [originalDir, patchedDir] = Deno.args;
const folder = (dir) => new URL(`file://${dir.replace(/\/?$/, "/")}`);

async function load(dir, options = {}) {
  const { loadPyodide } = await import(new URL("pyodide.mjs", folder(dir)).href);
  return loadPyodide({ indexURL: dir.replace(/\/?$/, "/"), stdout: () => {}, stderr: () => {}, ...options });
}

/** The table as function indices (an exported wasm function's name is its index), and the GOT in order. */
function linked(pyodide) {
  const module = pyodide._module;
  const table = [];
  for (let slot = 0; slot < module.wasmTable.length; slot++) table.push(module.wasmTable.get(slot)?.name ?? null);
  const got = Object.entries(module.GOT).map(([name, global]) => [name, global.value]);
  return { table, got };
}

function differences(a, b, what, limit = 5) {
  const found = [];
  if (a.length !== b.length) found.push(`${what}: ${a.length} entries against ${b.length}`);
  for (let i = 0; i < Math.min(a.length, b.length) && found.length < limit; i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) found.push(`${what}[${i}]: ${JSON.stringify(a[i])} against ${JSON.stringify(b[i])}`);
  }
  return found;
}

const original = linked(await load(originalDir));
const patchedPyodide = await load(patchedDir, { _makeSnapshot: true });
const patched = linked(patchedPyodide);
const found = [...differences(original.table, patched.table, "table"), ...differences(original.got, patched.got, "GOT")];

// The snapshot, restored whole and without its zero pages: the same memory once Pyodide has loaded.
const snapshot = patchedPyodide.makeMemorySnapshot();
const start = new DataView(snapshot.buffer, snapshot.byteOffset).getUint32(4, true);
const image = snapshot.subarray(start);
const zeroPages = new Uint8Array(Math.ceil(image.length / 65536));
zeroPages.forEach((_, page) => { zeroPages[page] = image.subarray(page * 65536, (page + 1) * 65536).every((byte) => byte === 0) ? 1 : 0; });
const whole = await load(patchedDir, { _loadSnapshot: snapshot.slice() });
const sparse = await load(patchedDir, { _loadSnapshot: snapshot.slice(), _snapshotZeroPages: zeroPages });
const [a, b] = [whole._module.HEAPU8, sparse._module.HEAPU8];
let memoryDifferences = a.length === b.length ? 0 : 1;
for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) memoryDifferences++;
if (memoryDifferences) found.push(`memory: ${memoryDifferences} bytes differ after a sparse restore`);
// Both interpreters work.
const answers = [whole.runPython("6 * 7"), sparse.runPython("sum(range(10))")];

console.log(JSON.stringify({
  tableSlots: patched.table.length, gotEntries: patched.got.length, zeroPages: zeroPages.reduce((n, zero) => n + zero, 0),
  pages: zeroPages.length, answers, differences: found,
}));
