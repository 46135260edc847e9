// Format check: the rules of registry/core/credfile.py `parse_credential_file` (size, UTF-8,
// strict JSON, depth, array-shaped objects, the file schema of the file's format version and the
// official OB 3.0 AchievementCredential schema, then the strict rules of docs/format.md §5a (v1)
// and v2 §5a, and the anchor information). Validators are compiled at build time from the very
// JSON Schema files the Python package ships (see build.mjs).
import { validateFile, validateFile2, validateOb3 } from "virtual:validators";
import { JsonError, isPlainObject, parseStrict, MAX_DEPTH } from "./json.js";
import { flatten } from "./digest.js";
import { parseIsoDateTime, toUtcSeconds } from "./time.js";

export const FORMAT = "credreg-proof-v1";
export const FORMAT_V2 = "credreg-proof-v2";
export const PROOF_TYPE = "CredentialRegistryAnchorProof";
export const PROOF_TYPE_DI = "DataIntegrityProof";
export const MAX_FILE_BYTES = 2 * 1024 * 1024;
export const CONTEXT_VC2 = "https://www.w3.org/ns/credentials/v2";
export const CONTEXT_OB3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
export const CONTEXTS = [CONTEXT_VC2, CONTEXT_OB3, "https://w3id.org/credential-registry/microcredential/v1"];
/** Format v2: exactly the VC 2.0 and OB 3.0.3 contexts (docs/format.md v2 §1). */
export const CONTEXTS_V2 = [CONTEXT_VC2, CONTEXT_OB3];
export const MANDATORY_PATHS = [
  "/@context",
  "/type",
  "/id",
  "/issuer",
  "/validFrom",
  "/validUntil",
  "/credentialSubject/type",
  "/credentialSubject/achievement/id",
  "/credentialSubject/achievement/type",
  "/credentialSubject/achievement/name",
  "/credentialSubject/achievement/description",
  "/credentialSubject/achievement/criteria",
];

const HASH_RE = /^0x[0-9a-f]{64}$/;
const ADDR_RE = /^0x[0-9a-f]{40}$/;
const SALT_RE = /^0x[0-9a-f]{32}$/;
const POINTER_RE = /^(?:\/(?:[^~/]|~[01])*)+$/u;
const DATETIME_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})$/;
const INDEX_RE = /^(?:0|[1-9][0-9]*)$/;
/** A claimed credential id (filerules.CLAIM_ID_RE): 1 to 256 characters, no spaces or control characters. */
const CLAIM_ID_RE = /^[^\x00-\x20\x7f]{1,256}$/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A format refusal: `where` names the field (like CredentialFormatError's field). */
export class FormatError extends Error {
  constructor(where, problem) {
    super(`${where}: ${problem}`);
    this.where = where;
    this.problem = problem;
  }
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function pyRepr(s) {
  return "'" + String(s).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

function checkDepth(root) {
  const stack = [[root, 0]];
  while (stack.length) {
    const [v, d] = stack.pop();
    if (d > MAX_DEPTH) throw new FormatError("format", `JSON nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(v)) for (const x of v) stack.push([x, d + 1]);
    else if (isPlainObject(v)) for (const k of Object.keys(v)) stack.push([v[k], d + 1]);
  }
}

function checkTree(root) {
  const stack = [[root, 0]];
  while (stack.length) {
    const [v, d] = stack.pop();
    if (d > MAX_DEPTH) throw new FormatError("format", `JSON nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(v)) {
      for (const x of v) stack.push([x, d + 1]);
    } else if (isPlainObject(v)) {
      const keys = Object.keys(v);
      if (keys.length && keys.every((k) => INDEX_RE.test(k))) {
        const ints = keys.map(Number).sort((a, b) => a - b);
        if (ints.every((x, idx) => x === idx)) {
          const shown = [...keys].sort().slice(0, 3).map(pyRepr).join(", ");
          throw new FormatError(
            "format",
            `an object with members [${shown}]... is shaped like an array and would hash like one; use an array`,
          );
        }
      }
      for (const k of keys) stack.push([v[k], d + 1]);
    }
  }
}

/** Bytes (Uint8Array/ArrayBuffer) or text -> the parsed JSON object plus number facts. */
export function load(data) {
  let text;
  if (typeof data === "string") {
    if (LONE_SURROGATE.test(data)) throw new FormatError("format", "the text is not valid Unicode (lone surrogate)");
    const size = new TextEncoder().encode(data).length;
    if (size > MAX_FILE_BYTES) throw new FormatError("format", `file larger than ${MAX_FILE_BYTES} bytes`);
    text = data;
  } else {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (bytes.length > MAX_FILE_BYTES) throw new FormatError("format", `file larger than ${MAX_FILE_BYTES} bytes`);
    try {
      text = fatalUtf8.decode(bytes);
    } catch {
      throw new FormatError("format", "the file is not UTF-8 text");
    }
  }
  if (text.startsWith("\ufeff")) text = text.slice(1);
  let parsed;
  try {
    parsed = parseStrict(text);
  } catch (exc) {
    if (exc instanceof JsonError) throw new FormatError("format", exc.message);
    if (exc instanceof RangeError) throw new FormatError("format", "JSON nested too deeply");
    throw exc;
  }
  if (!isPlainObject(parsed.value)) throw new FormatError("format", "a credential file must be a JSON object");
  checkTree(withoutProof(parsed.value));
  checkDepth(parsed.value);
  return parsed;
}

export function withoutProof(raw) {
  const out = Object.create(null);
  for (const k of Object.keys(raw)) if (k !== "proof") out[k] = raw[k];
  return out;
}

function pathOf(err) {
  // Ajv's instancePath is an RFC 6901 pointer; Python prints the unescaped tokens joined by "/".
  const tokens = err.instancePath.split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  return tokens;
}

function firstError(validate, data) {
  if (validate(data)) return null;
  const errors = [...(validate.errors || [])];
  errors.sort((a, b) => pathOf(a).length - pathOf(b).length);
  const err = errors[0];
  let where = "/" + pathOf(err).join("/");
  if (err.keyword === "required" || err.keyword === "additionalProperties") where = "/" + pathOf(err).join("/");
  let msg = err.message || err.keyword;
  if (err.params && err.params.missingProperty) msg = `${pyRepr(err.params.missingProperty)} is a required property`;
  else if (err.params && err.params.additionalProperty)
    msg = `Additional properties are not allowed (${pyRepr(err.params.additionalProperty)} was unexpected)`;
  if (msg.length > 300) msg = msg.slice(0, 300) + "...";
  return `${where}: ${msg}`;
}

function isUnder(path, prefix) {
  return path === prefix || path.startsWith(prefix + "/");
}

function pyListRepr(list) {
  return "[" + list.map(pyRepr).join(", ") + "]";
}

function sameList(a, b) {
  return a.length === b.length && a.every((x, idx) => x === b[idx]);
}

const PROOF_SET_RULE = `must be [${PROOF_TYPE_DI}, ${PROOF_TYPE}] or [${PROOF_TYPE}] (the standard proof first)`;

function strict(raw, version) {
  if (version === 2) {
    const types = raw.proof.map((p) => p.type);
    if (!sameList(types, [PROOF_TYPE]) && !sameList(types, [PROOF_TYPE_DI, PROOF_TYPE])) {
      throw new FormatError("/proof", PROOF_SET_RULE);
    }
  }
  const proof = raw.proof[raw.proof.length - 1];
  for (const [name, re] of [
    ["credentialDigest", HASH_RE],
    ["merkleRoot", HASH_RE],
    ["anchorTx", HASH_RE],
    ["registry", ADDR_RE],
    ["issuerAddress", ADDR_RE],
    ["anchoredAt", DATETIME_RE],
  ]) {
    if (!re.test(proof[name])) throw new FormatError(`/proof/0/${name}`, "not in canonical form (lower-case hex / ISO 8601)");
  }
  const red = proof.redacted;
  for (const [listName, items] of [
    ["merklePath", proof.merklePath],
    ["redacted", Array.isArray(red) ? red : Object.values(red)],
  ]) {
    items.forEach((h, idx) => {
      if (!HASH_RE.test(h)) throw new FormatError(`/proof/0/${listName}/${idx}`, "must be '0x' + 64 lower-case hex");
    });
  }
  if (version === 1) {
    for (let k = 1; k < red.length; k++) {
      if (red[k - 1] > red[k]) throw new FormatError("/proof/0/redacted", "redacted field hashes must be sorted ascending");
    }
  } else {
    strictV2(raw, proof);
  }
  if ("supersedes" in proof) strictSupersedes(proof, raw.proof.length - 1);
  for (const pointer of Object.keys(proof.salts)) {
    if (!POINTER_RE.test(pointer) || !SALT_RE.test(proof.salts[pointer])) {
      throw new FormatError(`/proof/0/salts/${pyRepr(pointer)}`, "bad pointer or salt");
    }
  }
  for (const name of ["validFrom", "validUntil"]) {
    if (name in raw && !DATETIME_RE.test(raw[name])) {
      throw new FormatError(`/${name}`, "must be an ISO 8601 date-time with ASCII digits");
    }
  }
  const contexts = version === 1 ? CONTEXTS : CONTEXTS_V2;
  if (!sameList(raw["@context"], contexts)) {
    throw new FormatError("/@context", `must be exactly ${pyListRepr(contexts)}`);
  }
  const hidden = proof.hiddenPaths;
  const redactedCount = Array.isArray(red) ? red.length : Object.keys(red).length;
  if ((hidden.length > 0) !== (redactedCount > 0)) {
    throw new FormatError(
      "/proof/0/hiddenPaths",
      "hiddenPaths and redacted disagree: fields were hidden without saying which, or the reverse",
    );
  }
  if (hidden.length) {
    const disclosed = flatten(withoutProof(raw)).map(([p]) => p);
    for (const pointer of hidden) {
      if (!POINTER_RE.test(pointer)) throw new FormatError("/proof/0/hiddenPaths", `${pyRepr(pointer)} is not a JSON pointer`);
      if (disclosed.some((p) => isUnder(p, pointer))) {
        throw new FormatError("/proof/0/hiddenPaths", `${pointer} is listed as hidden but is disclosed`);
      }
      for (const mandatory of MANDATORY_PATHS) {
        if (isUnder(pointer, mandatory) || isUnder(mandatory, pointer)) {
          throw new FormatError("/proof/0/hiddenPaths", `${mandatory} is mandatory and cannot be hidden`);
        }
      }
    }
  }
}

/** The optional `supersedes` claim (docs/format.md §4a; filerules._strict_supersedes). */
function strictSupersedes(proof, index) {
  const claim = proof.supersedes;
  const where = `/proof/${index}/supersedes`;
  if (!HASH_RE.test(claim.credentialDigest)) {
    throw new FormatError(`${where}/credentialDigest`, "must be '0x' + 64 lower-case hex");
  }
  if (claim.credentialDigest === proof.credentialDigest) {
    throw new FormatError(`${where}/credentialDigest`, "a credential cannot replace itself");
  }
  if (!CLAIM_ID_RE.test(claim.id)) {
    throw new FormatError(`${where}/id`, "must be 1 to 256 characters without spaces or control characters");
  }
}

/** Format v2 rules beyond its schema (docs/format.md v2 §5a; filerules._strict_v2). */
function strictV2(raw, proof) {
  const signed = raw.proof.length === 2;
  const redacted = Object.keys(proof.redacted);
  const disclosure = proof.disclosure;
  if (disclosure === "full" && (redacted.length || !signed)) {
    throw new FormatError("/proof/disclosure", "a full file hides nothing and carries the issuer's signature");
  }
  if (disclosure === "redacted" && (!redacted.length || signed)) {
    throw new FormatError(
      "/proof/disclosure",
      "a redacted file hides fields and cannot carry the issuer's signature (it covered them)",
    );
  }
  if (disclosure.startsWith("profile:") && (!redacted.length || !signed)) {
    throw new FormatError("/proof/disclosure", "a profile file hides fields and carries the profile's signature");
  }
  if ("profiles" in proof && disclosure !== "full") {
    throw new FormatError("/proof/profiles", "only a full file lists disclosure profiles");
  }
  const disclosed = flatten(withoutProof(raw)).map(([p]) => p);
  for (const pointer of redacted) {
    if (!POINTER_RE.test(pointer)) throw new FormatError("/proof/redacted", `${pyRepr(pointer)} is not a JSON pointer`);
    if (disclosed.some((p) => isUnder(p, pointer) || isUnder(pointer, p))) {
      throw new FormatError("/proof/redacted", `${pointer} is both redacted and disclosed`);
    }
    for (const mandatory of MANDATORY_PATHS) {
      if (mandatory !== "/validUntil" && (isUnder(pointer, mandatory) || isUnder(mandatory, pointer))) {
        throw new FormatError("/proof/redacted", `${mandatory} is mandatory and cannot be hidden`);
      }
    }
  }
  for (const [name, entry] of Object.entries(proof.profiles || {})) {
    for (const pointer of entry.hide) {
      if (!POINTER_RE.test(pointer)) throw new FormatError(`/proof/profiles/${name}`, `${pyRepr(pointer)} is not a JSON pointer`);
    }
  }
}

/** 2 when a proof of the set says credreg-proof-v2 (the v2 rules then check it is the last one), else 1. */
export function fileVersion(raw) {
  const proofs = isPlainObject(raw) ? raw.proof : undefined;
  return Array.isArray(proofs) && proofs.some((p) => isPlainObject(p) && p.format === FORMAT_V2) ? 2 : 1;
}

function anchorInfo(proof, index, floats) {
  const bad = (problem) => new FormatError("/proof/0", `bad anchor information: ${problem}`);
  const at = parseIsoDateTime(proof.anchoredAt);
  if (at.error) throw bad(at.error);
  if (floats.has(`/proof/${index}/chainId`) || !(proof.chainId >= 1)) throw bad("chain_id: must be a positive integer");
  if (floats.has(`/proof/${index}/anchorBlock`) || !(proof.anchorBlock >= 0)) {
    throw bad("anchor_block: must be a non-negative integer");
  }
  // format_datetime converts to UTC: a date-time whose UTC form leaves years 1..9999 overflows.
  const utc = toUtcSeconds(at);
  if (utc < -62135596800n || utc > 253402300799n) throw bad("date value out of range");
}

/**
 * Parse and validate a credential file: returns the typed view the other checks use, or throws
 * FormatError saying which part is wrong and why.
 */
/**
 * The file schema's Pointer pattern ^(/([^~]|~[01])*)+$ backtracks exponentially on a string it
 * does not match (a long run of "/" then a bad "~"); ^(/([^~/]|~[01])*)+$ is the same language
 * without the ambiguity. Test the strings it applies to with that one first: one that fails
 * would fail the schema anyway, so the outcome is the same, without the wait.
 */
function pointerGuard(raw, format) {
  const proofs = Array.isArray(raw.proof) ? raw.proof : [];
  for (const [i, proof] of proofs.entries()) {
    if (!isPlainObject(proof)) continue;
    const pointers = [];
    if (isPlainObject(proof.salts)) pointers.push(...Object.keys(proof.salts).map((p) => ["salts", p]));
    if (Array.isArray(proof.hiddenPaths)) {
      pointers.push(...proof.hiddenPaths.filter((p) => typeof p === "string").map((p) => ["hiddenPaths", p]));
    }
    for (const [where, pointer] of pointers) {
      if (!POINTER_RE.test(pointer)) {
        throw new FormatError(
          "format",
          `not a ${format} credential file: /proof/${i}/${where}: ${pyRepr(pointer)} is not an RFC 6901 JSON pointer`,
        );
      }
    }
  }
}

export function parseCredentialFile(data) {
  const { value: raw, floats, unsafeInts } = load(data);
  const version = fileVersion(raw);
  const format = version === 1 ? FORMAT : FORMAT_V2;
  pointerGuard(raw, format);
  let problem = firstError(version === 1 ? validateFile : validateFile2, raw);
  if (problem !== null) throw new FormatError("format", `not a ${format} credential file: ${problem}`);
  problem = firstError(validateOb3, raw);
  if (problem !== null) throw new FormatError("format", `not a valid Open Badges 3.0 AchievementCredential: ${problem}`);
  strict(raw, version);
  const index = raw.proof.length - 1;
  const proof = raw.proof[index];
  anchorInfo(proof, index, floats);
  const redactedPointers = version === 2 ? proof.redacted : null;
  const redacted = version === 2 ? Object.values(proof.redacted) : proof.redacted;
  return {
    version,
    credential: withoutProof(raw),
    proof,
    /** Format v2: the DataIntegrityProof when the file carries one, else null. */
    signature: raw.proof.length === 2 ? raw.proof[0] : null,
    unsafeInts,
    digest: proof.credentialDigest,
    root: proof.merkleRoot,
    path: proof.merklePath,
    salts: proof.salts,
    /** The field hashes of the hidden leaves (v1: the sorted list; v2: the values of redactedPointers). */
    redacted,
    /** Format v2: {pointer: field hash} of the hidden leaves; null for v1. */
    redactedPointers,
    hiddenPaths: [...proof.hiddenPaths],
    /** The claim that this credential replaces another ({id, credentialDigest, kind}), or null. */
    supersedes: isPlainObject(proof.supersedes) ? proof.supersedes : null,
    /** "full", "redacted" or "profile:<name>" (v1 files: "full" or "redacted"). */
    disclosure: typeof proof.disclosure === "string" ? proof.disclosure : redacted.length ? "redacted" : "full",
  };
}

/**
 * Whether `pointer` (or something under it) is hidden: true/false, or null when the format cannot
 * tell (v1 with redacted hashes: they do not name their fields). credfile.CredentialFile.hides.
 */
export function hides(cf, pointer) {
  if (cf.version >= 2) return Object.keys(cf.redactedPointers).some((p) => isUnder(p, pointer));
  return cf.redacted.length ? null : false;
}

export { LONE_SURROGATE };
