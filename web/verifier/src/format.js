// Format check: the rules of registry/core/credfile.py `parse_credential_file` (size, UTF-8,
// strict JSON, depth, array-shaped objects, the file schema and the official OB 3.0
// AchievementCredential schema, then the strict rules of docs/format.md §5a and the anchor
// information). Validators are compiled at build time from the very JSON Schema files the
// Python package ships (see build.mjs).
import { validateFile, validateOb3 } from "virtual:validators";
import { JsonError, isPlainObject, parseStrict, MAX_DEPTH } from "./json.js";
import { flatten } from "./digest.js";
import { parseIsoDateTime, toUtcSeconds } from "./time.js";

export const FORMAT = "credreg-proof-v1";
export const MAX_FILE_BYTES = 2 * 1024 * 1024;
export const CONTEXTS = [
  "https://www.w3.org/ns/credentials/v2",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
  "https://w3id.org/credential-registry/microcredential/v1",
];
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

function strict(raw) {
  const proof = raw.proof[0];
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
  for (const listName of ["merklePath", "redacted"]) {
    proof[listName].forEach((h, idx) => {
      if (!HASH_RE.test(h)) throw new FormatError(`/proof/0/${listName}/${idx}`, "must be '0x' + 64 lower-case hex");
    });
  }
  const red = proof.redacted;
  for (let k = 1; k < red.length; k++) {
    if (red[k - 1] > red[k]) throw new FormatError("/proof/0/redacted", "redacted field hashes must be sorted ascending");
  }
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
  const ctx = raw["@context"];
  if (!(ctx.length === CONTEXTS.length && ctx.every((c, idx) => c === CONTEXTS[idx]))) {
    throw new FormatError("/@context", `must be exactly ${pyListRepr(CONTEXTS)}`);
  }
  const hidden = proof.hiddenPaths;
  if ((hidden.length > 0) !== (red.length > 0)) {
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

function anchorInfo(proof, floats) {
  const bad = (problem) => new FormatError("/proof/0", `bad anchor information: ${problem}`);
  const at = parseIsoDateTime(proof.anchoredAt);
  if (at.error) throw bad(at.error);
  if (floats.has("/proof/0/chainId") || !(proof.chainId >= 1)) throw bad("chain_id: must be a positive integer");
  if (floats.has("/proof/0/anchorBlock") || !(proof.anchorBlock >= 0)) {
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
function pointerGuard(raw) {
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
          `not a ${FORMAT} credential file: /proof/${i}/${where}: ${pyRepr(pointer)} is not an RFC 6901 JSON pointer`,
        );
      }
    }
  }
}

export function parseCredentialFile(data) {
  const { value: raw, floats, unsafeInts } = load(data);
  pointerGuard(raw);
  let problem = firstError(validateFile, raw);
  if (problem !== null) throw new FormatError("format", `not a ${FORMAT} credential file: ${problem}`);
  problem = firstError(validateOb3, raw);
  if (problem !== null) throw new FormatError("format", `not a valid Open Badges 3.0 AchievementCredential: ${problem}`);
  strict(raw);
  const proof = raw.proof[0];
  anchorInfo(proof, floats);
  return {
    credential: withoutProof(raw),
    proof,
    unsafeInts,
    digest: proof.credentialDigest,
    root: proof.merkleRoot,
    path: proof.merklePath,
    salts: proof.salts,
    redacted: proof.redacted,
    hiddenPaths: [...proof.hiddenPaths],
  };
}

export { LONE_SURROGATE };
