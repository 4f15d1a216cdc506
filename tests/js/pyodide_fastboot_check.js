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

/**
 * A minimal side module (what a package's C extension is): it imports the address of one of Pyodide's
 * functions through the GOT and exports a function returning it. Loading it links it the way a package's
 * .so is linked (its exports get table slots and GOT entries, and join the symbols).
 */
function sideModule() {
  const text = (string) => [string.length, ...new TextEncoder().encode(string)];
  const section = (id, body) => [id, body.length, ...body];
  const imports = [5,
    ...text("env"), ...text("memory"), 2, 0, 0,
    ...text("env"), ...text("__indirect_function_table"), 1, 0x70, 0, 0,
    ...text("env"), ...text("__memory_base"), 3, 0x7f, 0,
    ...text("env"), ...text("__table_base"), 3, 0x7f, 0,
    ...text("GOT.func"), ...text("PyLong_FromLong"), 3, 0x7f, 1];
  return new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0,
    ...section(0, [...text("dylink.0"), 1, 4, 0, 0, 0, 0]), // memory info: no memory, no table of its own
    ...section(1, [1, 0x60, 0, 1, 0x7f]), // () -> i32
    ...section(2, imports),
    ...section(3, [1, 0]),
    ...section(7, [1, ...text("fastboot_side_fn"), 0, 0]),
    ...section(10, [1, 4, 0, 0x23, 2, 0x0b])]); // global.get 2 (the GOT entry); end
}

async function loadSide(pyodide) {
  pyodide.FS.writeFile("/tmp/libfastboot.so", sideModule());
  await pyodide._module.loadDynamicLibrary("/tmp/libfastboot.so", { loadAsync: true, global: true, nodelete: true });
  const { GOT, wasmTable } = pyodide._module;
  return { answer: GOT.fastboot_side_fn && wasmTable.get(GOT.fastboot_side_fn.value)(),
           expected: GOT.PyLong_FromLong.value, slot: GOT.fastboot_side_fn?.value, tableSlots: wasmTable.length };
}

const originalPyodide = await load(originalDir);
const original = linked(originalPyodide);
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
// A side module links the same (after the snapshot: loading one is what makes the snapshot differ), into an
// interpreter whose GOT was listed whole and into one whose entries are made as the side module looks them up.
const sides = [await loadSide(originalPyodide), await loadSide(patchedPyodide), await loadSide(whole)];
for (const side of sides.slice(1)) {
  if (JSON.stringify(sides[0]) !== JSON.stringify(side)) found.push(`side module: ${JSON.stringify(sides)}`);
  if (side.answer !== side.expected) found.push(`side module's GOT entry: ${JSON.stringify(side)}`);
}
const more = linked(patchedPyodide);
found.push(...differences(linked(originalPyodide).got, more.got, "GOT after the side module"));
// Function slots asked for later (Pyodide's JS adds its callbacks' wrappers): the same answers from an
// interpreter that linked from the layout (its function-to-slot map not built yet) as from the original.
function askSlots(pyodide) {
  const module = pyodide._module;
  const callback = () => 0;
  const first = module.addFunction(callback, "i");
  const again = module.addFunction(callback, "i"); // found again, not given a second slot
  const staticSlot = module.addFunction(module.wasmTable.get(1234)); // a wasm function already in the table
  module.removeFunction(first);
  const reused = module.addFunction(() => 1, "i"); // the freed slot
  return { first, again, staticSlot, reused, tableSlots: module.wasmTable.length };
}
const asked = [askSlots(await load(originalDir)), askSlots(sparse)];
if (JSON.stringify(asked[0]) !== JSON.stringify(asked[1])) found.push(`slots asked later: ${JSON.stringify(asked)}`);
const byName = (got) => got.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
found.push(...differences(byName(linked(originalPyodide).got), byName(linked(whole).got), "GOT made on demand"));
found.push(...differences(linked(originalPyodide).table, linked(whole).table, "table after the side module"));

console.log(JSON.stringify({
  linkedFromLayout: [patchedPyodide, whole, sparse].map((pyodide) => pyodide._module.linkedFromLayout === true), asked: asked[1],
  tableSlots: patched.table.length, gotEntries: patched.got.length, zeroPages: zeroPages.reduce((n, zero) => n + zero, 0),
  pages: zeroPages.length, answers, side: sides[1], differences: found,
}));
