// Zip archives dropped on the page, read by the rule of registry/verify/archive.py (the API's
// uploads and `registry verify`), so one archive gives the same rows on the page, through the API
// and in the CLI: every entry is a file to verify except folders and hidden entries (`__MACOSX/`,
// any part of the name with a leading dot); an archive that cannot be opened, or with nothing to
// verify in it, is one failed file; an entry that cannot be read (encrypted, corrupt: its CRC-32
// is checked) is a failed file of its own; an entry is never unpacked past the limit of one file
// (10 MiB, the largest badge), whatever size the archive declares; a zip inside a zip is an entry
// like any other. The archive is read with zip.js (the browser's own DecompressionStream, on this
// thread: the page is one self-contained file, with no worker script to load). Nothing leaves the
// browser.
import { configure, Uint8ArrayReader, Writer, ZipReader } from "@zip.js/zip.js/index-native.js";

configure({ useWebWorkers: false });

/** The most bytes of one file (a credential file is at most 2 MiB, a baked badge 10 MiB). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

/** Whether ``bytes`` start as a zip archive does (a local file header, or an empty archive's end record). */
export function isZip(bytes) {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) return false; // "PK"
  return (bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6);
}

/** An entry nobody meant to send: macOS resource forks, `.DS_Store`, any hidden file or folder. */
export function hiddenEntry(name) {
  const parts = name.replaceAll("\\", "/").split("/");
  return parts[0] === "__MACOSX" || parts.some((p) => p.startsWith(".") && p !== "." && p !== "..");
}

class TooLarge extends Error {}

/** Collects an entry's bytes, refusing the first byte past ``limit``. */
class BoundedWriter extends Writer {
  constructor(limit) {
    super();
    this.limit = limit;
    this.chunks = [];
    this.taken = 0; // not ``size``: zip.js counts that one itself
  }

  writeUint8Array(array) {
    this.taken += array.length;
    if (this.taken > this.limit) throw new TooLarge();
    this.chunks.push(array.slice());
  }

  getData() {
    const out = new Uint8Array(this.taken);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

const larger = (limit) => `the file is larger than ${limit} bytes`;

/**
 * The files of the archive ``data`` named ``name`` (entries named `name/ENTRY`), in the archive's
 * order: ``{source, data}``, or ``{source, problem}`` for what cannot be read.
 */
export async function readZip(name, data, limit = MAX_FILE_BYTES) {
  let entries;
  const reader = new ZipReader(new Uint8ArrayReader(data));
  try {
    entries = (await reader.getEntries()).filter((e) => !e.directory && !hiddenEntry(e.filename));
  } catch (exc) {
    return [{ source: name, problem: `not a readable zip archive: ${exc.message}` }];
  }
  if (!entries.length) return [{ source: name, problem: "the zip archive holds no file to verify" }];
  const out = [];
  for (const entry of entries) {
    const source = `${name}/${entry.filename}`;
    if (entry.uncompressedSize > limit) {
      out.push({ source, problem: larger(limit) });
      continue;
    }
    try {
      out.push({ source, data: await entry.getData(new BoundedWriter(limit), { checkSignature: true }) });
    } catch (exc) {
      const problem = exc instanceof TooLarge ? larger(limit) : `cannot read this zip entry: ${exc.message}`;
      out.push({ source, problem });
    }
  }
  await reader.close();
  return out;
}

/** ``files`` ({source, data}) with each zip archive replaced by its entries, in order. */
export async function expandArchives(files, limit = MAX_FILE_BYTES) {
  const out = [];
  for (const file of files) {
    const archive = file.data instanceof Uint8Array && isZip(file.data);
    out.push(...(archive ? await readZip(file.source, file.data, limit) : [file]));
  }
  return out;
}
