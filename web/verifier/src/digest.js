// Salted per-field digest (jcs-keccak256-salted-fields-v1, docs/format.md §2, and -v2, v2 §2:
// each field hash bound to its pointer) and the inclusion proof (OpenZeppelin StandardMerkleTree,
// §3), as registry/core/disclosure.py and registry/core/merkle.py compute them: JCS (RFC 8785) by
// the `canonicalize` package, keccak-256 by @noble/hashes, the Merkle proof by
// @openzeppelin/merkle-tree.
import canonicalize from "canonicalize";
import { keccak_256 } from "@noble/hashes/sha3";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { isPlainObject } from "./json.js";

export const MAX_PROOF_LENGTH = 64;
const SALT_RE = /^0x[0-9a-f]{32}$/;

export class DigestError extends Error {
  constructor(where, problem) {
    super(`${where}: ${problem}`);
    this.where = where;
  }
}

function escapeToken(token) {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** [[pointer, leaf value], ...] of a credential (its top-level `proof` excluded). */
export function flatten(doc) {
  const out = [];
  const walk = (value, prefix) => {
    if (Array.isArray(value)) {
      value.forEach((v, idx) => visit(v, `${prefix}/${idx}`));
    } else {
      for (const key of Object.keys(value)) visit(value[key], `${prefix}/${escapeToken(key)}`);
    }
  };
  const visit = (v, p) => {
    if ((Array.isArray(v) && v.length) || (isPlainObject(v) && Object.keys(v).length)) walk(v, p);
    else out.push([p, v]);
  };
  for (const key of Object.keys(doc)) {
    if (key !== "proof") visit(doc[key], `/${escapeToken(key)}`);
  }
  return out;
}

/** keccak256(JCS([salt, pointer, value])) as bytes. `unsafe`: pointers of integers JCS refuses. */
export function fieldHash(salt, pointer, value, unsafe) {
  if (typeof salt !== "string" || !SALT_RE.test(salt)) {
    throw new DigestError(pointer, "salt must be '0x' followed by 32 lower-case hex");
  }
  if (unsafe && unsafe.has(pointer)) {
    throw new DigestError(pointer, "value cannot be canonicalised: the integer is outside the range RFC 8785 allows");
  }
  let text;
  try {
    text = canonicalize([salt, pointer, value]);
  } catch (exc) {
    throw new DigestError(pointer, `value cannot be canonicalised: ${exc.message}`);
  }
  return keccak_256(utf8ToBytes(text));
}

function compareBytes(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The credentialDigest (0x-hex) of a credential with its salts and redacted field hashes. */
export function computeDigest(doc, salts, redacted, unsafe) {
  const fields = flatten(doc);
  const hashes = [];
  for (const [pointer, value] of fields) {
    const salt = Object.prototype.hasOwnProperty.call(salts, pointer) ? salts[pointer] : undefined;
    if (salt === undefined) throw new DigestError(pointer, "disclosed field has no salt in proof.salts");
    hashes.push(fieldHash(salt, pointer, value, unsafe));
  }
  const saltCount = Object.keys(salts).length;
  if (hashes.length !== saltCount) {
    const known = new Set(fields.map(([p]) => p));
    const extra = Object.keys(salts).filter((p) => !known.has(p)).sort();
    throw new DigestError(extra[0], "proof.salts has a salt for a field that is not in the credential");
  }
  redacted.forEach((h) => hashes.push(hexToBytes(h.slice(2))));
  const seen = new Set(hashes.map((h) => bytesToHex(h)));
  if (seen.size !== hashes.length) throw new DigestError("/proof/0/redacted", "a field hash appears more than once");
  hashes.sort(compareBytes);
  const all = new Uint8Array(32 * hashes.length);
  hashes.forEach((h, idx) => all.set(h, 32 * idx));
  return "0x" + bytesToHex(keccak_256(all));
}

/** Order of strings by Unicode code point, which is the bytewise order of their UTF-8 forms. */
export function compareCodePoints(a, b) {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(j);
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The credentialDigest (0x-hex) of a format v2 credential (docs/format.md v2 §2): keccak256 over
 * keccak256(pointer) ‖ fieldHash for every field, disclosed (recomputed from `salts`) and hidden
 * (`redacted`, {pointer: field hash}), ordered by pointer bytewise on UTF-8.
 */
export function computeDigestV2(doc, salts, redacted, unsafe) {
  const fields = flatten(doc);
  const pairs = new Map();
  for (const [pointer, value] of fields) {
    const salt = Object.prototype.hasOwnProperty.call(salts, pointer) ? salts[pointer] : undefined;
    if (salt === undefined) throw new DigestError(pointer, "disclosed field has no salt in proof.salts");
    pairs.set(pointer, fieldHash(salt, pointer, value, unsafe));
  }
  if (pairs.size !== Object.keys(salts).length) {
    const extra = Object.keys(salts)
      .filter((p) => !pairs.has(p))
      .sort(compareCodePoints);
    throw new DigestError(extra[0], "proof.salts has a salt for a field that is not in the credential");
  }
  for (const pointer of Object.keys(redacted)) {
    if (pairs.has(pointer)) throw new DigestError(pointer, "is both disclosed and redacted");
    pairs.set(pointer, hexToBytes(redacted[pointer].slice(2)));
  }
  const pointers = [...pairs.keys()].sort(compareCodePoints);
  const all = new Uint8Array(64 * pointers.length);
  pointers.forEach((pointer, idx) => {
    // UTF-8 of a lone surrogate does not exist (Python refuses to encode it; TextEncoder would
    // substitute U+FFFD, a different pointer): such a pointer cannot be hashed.
    if (LONE_SURROGATE_RE.test(pointer)) throw new DigestError(pointer, "the pointer is not valid Unicode (lone surrogate)");
    all.set(keccak_256(utf8ToBytes(pointer)), 64 * idx);
    all.set(pairs.get(pointer), 64 * idx + 32);
  });
  return "0x" + bytesToHex(keccak_256(all));
}

/** Throws with the reason unless `path` leads from the leaf of `digest` to `root`. */
export function verifyInclusion(root, digest, path) {
  if (path.length > MAX_PROOF_LENGTH) {
    throw new Error(`proof has ${path.length} elements, more than ${MAX_PROOF_LENGTH}`);
  }
  if (!StandardMerkleTree.verify(root, ["bytes32"], [digest], path)) {
    throw new Error("the path does not lead to the Merkle root");
  }
}
