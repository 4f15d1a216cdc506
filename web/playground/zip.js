// A store-only zip writer (no compression: the site's big files, Pyodide and the wheels, are
// compressed already, and unzip tools everywhere read stored entries). Entries are Blobs, so an
// 80 MB site is never copied into one buffer; names are UTF-8 (general purpose flag bit 11).
//
//   const blob = await zipFiles([{ name: "index.html", data: blobOrBytesOrString }, ...]);
//
// Format: PKWARE APPNOTE 6.3 §4.3: a local header before each file's bytes, then the central
// directory (one header per file) and the end-of-central-directory record. No zip64: a site of
// more than 65,535 files or 4 GB is refused with an error.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (the zip/PNG polynomial) of `bytes`, continuing from `crc`. */
export function crc32(bytes, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const LIMIT = 0xffffffff;

/** MS-DOS time and date fields of `date` (local time, 2-second resolution). */
function dosTime(date) {
  const time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
  const day = ((date.getFullYear() - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  return [time, day];
}

async function bytesOf(data) {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  return new Uint8Array(data);
}

/**
 * A zip archive of `files` ({name, data: Blob | ArrayBuffer | Uint8Array | string}), as a Blob.
 * @param {{name: string, data: Blob | ArrayBuffer | Uint8Array | string}[]} files
 * @param {{date?: Date}} [options]  the modification time written for every entry
 */
export async function zipFiles(files, { date = new Date() } = {}) {
  if (files.length > 0xffff) throw new Error(`a zip without zip64 holds at most 65,535 files, not ${files.length}`);
  const [time, day] = dosTime(date);
  const encoder = new TextEncoder();
  const parts = [];
  const central = [];
  let offset = 0;
  for (const { name, data } of files) {
    const bytes = await bytesOf(data);
    const path = encoder.encode(name);
    const crc = crc32(bytes);
    if (bytes.length >= LIMIT || offset >= LIMIT) throw new Error("the site is too big for a zip without zip64 (4 GB)");
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true); // local file header signature
    local.setUint16(4, 20, true); // version needed to extract: 2.0
    local.setUint16(6, 0x0800, true); // names are UTF-8
    local.setUint16(8, 0, true); // stored
    local.setUint16(10, time, true);
    local.setUint16(12, day, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, bytes.length, true);
    local.setUint32(22, bytes.length, true);
    local.setUint16(26, path.length, true);
    local.setUint16(28, 0, true); // no extra field
    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, 0x02014b50, true); // central directory header signature
    entry.setUint16(4, (3 << 8) | 20, true); // made by: Unix, 2.0 (so the mode below is read)
    entry.setUint16(6, 20, true);
    entry.setUint16(8, 0x0800, true);
    entry.setUint16(10, 0, true);
    entry.setUint16(12, time, true);
    entry.setUint16(14, day, true);
    entry.setUint32(16, crc, true);
    entry.setUint32(20, bytes.length, true);
    entry.setUint32(24, bytes.length, true);
    entry.setUint16(28, path.length, true);
    // 30: extra, 32: comment, 34: disk, 36: internal attributes: all 0
    entry.setUint32(38, (0o100644 << 16) >>> 0, true); // external attributes: a regular file, rw-r--r--
    entry.setUint32(42, offset, true);
    parts.push(local, path, bytes);
    central.push(entry, path);
    offset += 30 + path.length + bytes.length;
  }
  const size = central.reduce((sum, part) => sum + part.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true); // end of central directory signature
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, size, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, end], { type: "application/zip" });
}
