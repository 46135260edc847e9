// Baked badges (Open Badges 3.0 "Baking"), read as registry/core/baking.py reads them: in a PNG
// the credential is the text of an iTXt chunk with keyword `openbadgecredential`; in an SVG the
// text of the `openbadges:credential` element (namespace https://purl.imsglobal.org/ob/v3p0).
// PNG chunks are checked with their CRC-32 (`crc-32`), compressed iTXt text inflated by `fflate`;
// SVG is parsed by the browser's XML parser, and a DTD is refused like defusedxml does.
import CRC32 from "crc-32";
import { unzlibSync } from "fflate";


export const OB3_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0";
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
export const MAX_CREDENTIAL_BYTES = 1024 * 1024;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class BadgeError extends Error {
  constructor(problem) {
    super(`badge: ${problem}`);
  }
}

function startsWith(bytes, prefix) {
  return prefix.every((b, i) => bytes[i] === b);
}

function indexOf(bytes, needle, from, to) {
  outer: for (let i = from; i <= Math.min(to, bytes.length) - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** "png", "svg" or "json": what kind of file the bytes look like (baking.sniff). */
export function sniff(bytes) {
  if (startsWith(bytes, PNG_SIGNATURE)) return "png";
  let i = 0;
  const end = Math.min(bytes.length, 4096);
  while (i < end && [0xef, 0xbb, 0xbf, 0x20, 0x09, 0x0d, 0x0a].includes(bytes[i])) i++;
  if (i < end && (bytes[i] === 0x7b || bytes[i] === 0x5b)) return "json";
  if (i < end && bytes[i] === 0x3c && indexOf(bytes, [0x3c, 0x73, 0x76, 0x67], 0, 65536) >= 0) return "svg";
  return "json";
}

function checkCredential(payload, where) {
  if (payload.length > MAX_CREDENTIAL_BYTES) {
    throw new BadgeError(
      `the credential embedded in the ${where} is ${payload.length} bytes, more than the limit of ${MAX_CREDENTIAL_BYTES} bytes`,
    );
  }
  try {
    JSON.parse(utf8.decode(payload));
  } catch (exc) {
    throw new BadgeError(`the credential embedded in the ${where} is not UTF-8 JSON: ${exc.message}`);
  }
  return payload;
}

function* pngChunks(bytes) {
  if (bytes.length > MAX_IMAGE_BYTES) {
    throw new BadgeError(`the PNG image is ${bytes.length} bytes; badge images may be at most 10 MB`);
  }
  if (!startsWith(bytes, PNG_SIGNATURE)) throw new BadgeError("not a PNG image (bad signature)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  for (;;) {
    if (pos + 8 > bytes.length) throw new BadgeError("malformed PNG image: chunk truncated (end of file)");
    const length = view.getUint32(pos);
    const type = latin1.decode(bytes.subarray(pos + 4, pos + 8));
    if (length > 2 ** 31 - 1) throw new BadgeError("malformed PNG image: chunk too long");
    if (!/^[a-zA-Z]{4}$/.test(type)) throw new BadgeError(`malformed PNG image: chunk has invalid type`);
    if (pos + 12 + length > bytes.length) throw new BadgeError(`malformed PNG image: chunk ${type} truncated`);
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    const crc = view.getUint32(pos + 8 + length);
    if ((CRC32.buf(bytes.subarray(pos + 4, pos + 8 + length)) >>> 0) !== crc) {
      throw new BadgeError(`malformed PNG image: checksum error in ${type} chunk`);
    }
    yield [type, data];
    if (type === "IEND") return;
    pos += 12 + length;
  }
}

function parseItxt(data) {
  const nul = data.indexOf(0);
  if (nul < 0 || data.length - nul - 1 < 2) throw new BadgeError("malformed iTXt chunk in the PNG image");
  const keyword = latin1.decode(data.subarray(0, nul));
  const flag = data[nul + 1];
  const method = data[nul + 2];
  let rest = data.subarray(nul + 3);
  const n1 = rest.indexOf(0);
  if (n1 < 0) throw new BadgeError("malformed iTXt chunk in the PNG image");
  rest = rest.subarray(n1 + 1);
  const n2 = rest.indexOf(0);
  if (n2 < 0) throw new BadgeError("malformed iTXt chunk in the PNG image");
  let text = rest.subarray(n2 + 1);
  if (flag === 1) {
    if (method !== 0) throw new BadgeError(`iTXt chunk uses unknown compression method ${method}`);
    try {
      text = unzlibSync(text);
    } catch (exc) {
      throw new BadgeError(`compressed iTXt chunk is corrupt: ${exc.message}`);
    }
    if (text.length > MAX_CREDENTIAL_BYTES + 1) text = text.subarray(0, MAX_CREDENTIAL_BYTES + 1);
  } else if (flag !== 0) {
    throw new BadgeError(`iTXt chunk has invalid compression flag ${flag}`);
  }
  return [keyword, text];
}

export function extractPng(bytes) {
  const found = [];
  let ob2 = false;
  for (const [type, data] of pngChunks(bytes)) {
    if (type !== "iTXt") continue;
    const [keyword, text] = parseItxt(data);
    if (keyword === "openbadgecredential") found.push(text);
    else if (keyword === "openbadges") ob2 = true;
  }
  if (!found.length) {
    if (ob2) {
      throw new BadgeError(
        "this PNG carries an Open Badges 2.0 assertion ('openbadges' chunk), not an Open Badges 3.0 credential",
      );
    }
    throw new BadgeError("this PNG image has no baked credential (no iTXt chunk 'openbadgecredential')");
  }
  if (found.length > 1) {
    throw new BadgeError(`this PNG image has ${found.length} baked credentials; a badge carries exactly one`);
  }
  return checkCredential(found[0], "PNG image");
}

const PY_SPACE = /^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

export function extractSvg(bytes) {
  if (bytes.length > MAX_IMAGE_BYTES) {
    throw new BadgeError(`the SVG image is ${bytes.length} bytes; badge images may be at most 10 MB`);
  }
  let source;
  try {
    source = utf8.decode(bytes);
  } catch {
    throw new BadgeError("malformed SVG image: not UTF-8");
  }
  // A DTD can only stand in the prolog, before the root element: refused before parsing, so no
  // entity is ever expanded (defusedxml's forbid_dtd).
  const rootStart = source.search(/<[A-Za-z_:]/);
  const prolog = rootStart < 0 ? source : source.slice(0, rootStart);
  if (/<!DOCTYPE/i.test(prolog)) {
    throw new BadgeError("unsafe SVG refused (DTDs and entities are not allowed)");
  }
  const doc = new DOMParser().parseFromString(source, "image/svg+xml");
  if (doc.doctype) throw new BadgeError("unsafe SVG refused (DTDs and entities are not allowed)");
  if (doc.getElementsByTagNameNS("http://www.mozilla.org/newlayout/xml/parsererror.xml", "parsererror").length ||
      doc.getElementsByTagName("parsererror").length) {
    throw new BadgeError("malformed SVG image");
  }
  const root = doc.documentElement;
  if (!root || root.localName !== "svg") throw new BadgeError("not an SVG image (the root element is not <svg>)");
  const elements = [];
  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    if (node.namespaceURI === OB3_NAMESPACE && node.localName === "credential") elements.push(node);
    for (let c = node.lastElementChild; c; c = c.previousElementSibling) stack.push(c);
  }
  if (!elements.length) {
    throw new BadgeError(
      `this SVG image has no baked credential (no openbadges:credential element in namespace ${OB3_NAMESPACE})`,
    );
  }
  if (elements.length > 1) {
    throw new BadgeError(`this SVG image has ${elements.length} baked credentials; a badge carries exactly one`);
  }
  let text = "";
  for (const node of elements[0].childNodes) {
    if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.CDATA_SECTION_NODE) text += node.data;
    else if (node.nodeType !== Node.COMMENT_NODE) {
      throw new BadgeError("the openbadges:credential element contains markup, not JSON");
    }
  }
  text = text.replace(PY_SPACE, "");
  if (!text) throw new BadgeError("the openbadges:credential element of this SVG is empty");
  return checkCredential(new TextEncoder().encode(text), "SVG image");
}

/** Credential JSON bytes from a file's bytes: JSON unchanged, PNG/SVG badges unbaked. */
export function extractIfBaked(bytes) {
  const kind = sniff(bytes);
  if (kind === "png") return extractPng(bytes);
  if (kind === "svg") return extractSvg(bytes);
  return bytes;
}

