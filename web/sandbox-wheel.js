// Reads a few text files out of a wheel (a zip) in the browser, so that the
// sandbox gets the runner modules from the same wasm_agent wheel the agent
// worker installs: one source of truth, no extra copies in the site.

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
