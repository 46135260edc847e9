// The issuer's signature of a format v2 file (docs/format.md v2 §4): a W3C Data Integrity
// `DataIntegrityProof` with cryptosuite `eddsa-rdfc-2022`, verified in the browser by Digital
// Bazaar's own code (jsonld-signatures, @digitalbazaar/data-integrity,
// @digitalbazaar/eddsa-rdfc-2022-cryptosuite, jsonld and rdf-canonize for RDFC-1.0,
// @digitalbazaar/ed25519-multikey), as a standard verifier or wallet checks it: what
// registry/core/signing.py `check_signature` decides. Then the key's binding on chain (the
// registry's `signingKey` record, read by chain.js): verify/verifier.py `_signature`.
//
// Nothing is fetched: the document loader serves the two JSON-LD contexts the Python package ships
// (VC 2.0 and OB 3.0.3, bundled at build time), the verification method as a Multikey built from
// its own id (`issuer.id#<publicKeyMultibase>`, controller `issuer.id`) and the issuer as the
// controller document naming that key for assertionMethod; any other URL is refused.
import jsigs from "jsonld-signatures";
import { DataIntegrityProof } from "@digitalbazaar/data-integrity";
import { cryptosuite } from "@digitalbazaar/eddsa-rdfc-2022-cryptosuite";
import { decode as base58Decode } from "base58-universal";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2";
import { bytesToHex } from "@noble/hashes/utils";
import contexts from "virtual:contexts";
import { isoZ } from "./time.js";

export const PROOF_TYPE_DI = "DataIntegrityProof";
export const CRYPTOSUITE = "eddsa-rdfc-2022";
export const PROOF_PURPOSE = "assertionMethod";
export const PROOF_LABEL = `${PROOF_TYPE_DI} ${CRYPTOSUITE}`;
const MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1";
const DID_CONTEXT = "https://www.w3.org/ns/did/v1";
const MAX_TWINS = 8;

// Digital Bazaar's browser builds hash with WebCrypto, which browsers expose in secure contexts
// only (https, localhost, file://). A page served over plain http elsewhere gets the same digests
// from @noble/hashes.
(function shimDigest() {
  const c = globalThis.crypto;
  if (!c || c.subtle) return;
  const algorithms = { "SHA-256": sha256, "SHA-384": sha384, "SHA-512": sha512 };
  const digest = async (algorithm, data) => {
    const name = String(typeof algorithm === "object" ? algorithm.name : algorithm).toUpperCase();
    const hash = algorithms[name];
    if (!hash) throw new Error(`digest ${name} is not available`);
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return hash(bytes).buffer;
  };
  try {
    Object.defineProperty(c, "subtle", { value: { digest }, configurable: true });
  } catch {
    // leave it: the signature check then reports the error
  }
})();

function pyRepr(s) {
  if (typeof s !== "string") return s === null || s === undefined ? "None" : JSON.stringify(s);
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return q + s.replace(/\\/g, "\\\\").split(q).join("\\" + q) + q;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The 32-byte Ed25519 key of a Multikey publicKeyMultibase, or the reason it is not one. */
export function publicKeyFromMultibase(value) {
  const where = "verificationMethod: ";
  if (typeof value !== "string" || !value.startsWith("z") || value.length > 64) {
    return { error: where + "the key must be a base58btc multibase value starting with 'z'" };
  }
  const raw = /^[1-9A-HJ-NP-Za-km-z]*$/.test(value.slice(1)) ? base58Decode(value.slice(1)) : undefined;
  if (raw === undefined) return { error: where + "the key is not valid base58btc" };
  if (raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) {
    return { error: where + "the key is not an Ed25519 Multikey (0xed01 + 32 bytes)" };
  }
  return { key: raw.slice(2) };
}

/** Python's json.dumps(..., sort_keys=True) shape of a JSON value, for comparing objects. */
function stableJson(value) {
  if (Array.isArray(value)) return "[" + value.map(stableJson).join(",") + "]";
  if (isObject(value)) {
    return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + stableJson(value[k])).join(",") + "}";
  }
  return JSON.stringify(value);
}

/**
 * The largest number of id-less JSON objects sharing one shallow signature (signing._twins):
 * RDFC-1.0's cost grows with the factorial of such groups, so a verifier bounds it.
 */
export function twins(doc) {
  const counts = new Map();
  const shallow = (obj) =>
    stableJson(Object.fromEntries(Object.keys(obj).map((k) => [k, isObject(obj[k]) ? "{}" : obj[k]])));
  const stack = [doc];
  while (stack.length) {
    const node = stack.pop();
    if (isObject(node)) {
      if (!("id" in node) && !("@id" in node)) {
        const sig = shallow(node);
        counts.set(sig, (counts.get(sig) || 0) + 1);
      }
      for (const k of Object.keys(node)) stack.push(node[k]);
    } else if (Array.isArray(node)) {
      for (const v of node) stack.push(v);
    }
  }
  return Math.max(0, ...counts.values());
}

function loaderFor(issuerId, method, publicKeyMultibase) {
  const verificationMethod = {
    "@context": MULTIKEY_CONTEXT,
    id: method,
    type: "Multikey",
    controller: issuerId,
    publicKeyMultibase,
  };
  const controller = { "@context": [DID_CONTEXT, MULTIKEY_CONTEXT], id: issuerId, assertionMethod: [method] };
  return async (url) => {
    if (Object.prototype.hasOwnProperty.call(contexts, url)) {
      return { contextUrl: null, documentUrl: url, document: contexts[url] };
    }
    if (url === method) return { contextUrl: null, documentUrl: url, document: verificationMethod };
    if (url === issuerId) return { contextUrl: null, documentUrl: url, document: controller };
    throw new Error(`${url} is not a context this verifier ships (contexts are never fetched)`);
  };
}

function firstError(result) {
  let err = result.error;
  while (err && Array.isArray(err.errors) && err.errors.length) err = err.errors[0];
  if (!err && Array.isArray(result.results)) {
    const failed = result.results.find((r) => !r.verified);
    err = failed && failed.error;
    while (err && Array.isArray(err.errors) && err.errors.length) err = err.errors[0];
  }
  return err || new Error("the proof was not verified");
}

function plain(value) {
  // Digital Bazaar's code (and jsonld) build ordinary objects: hand it ordinary JSON (the parser's
  // prototype-free objects, copied; member names such as "__proto__" stay data).
  return JSON.parse(JSON.stringify(value));
}

/**
 * Check `proof` (a DataIntegrityProof, eddsa-rdfc-2022) over `credential` (without its proof).
 * Never throws for bad input: resolves to {ok, reason, publicKey} with publicKey the 0x-hex
 * 32-byte Ed25519 key when the verification method names one.
 */
export async function checkSignature(credential, proof) {
  if (!isObject(proof) || proof.type !== PROOF_TYPE_DI || proof.cryptosuite !== CRYPTOSUITE) {
    return { ok: false, reason: `not a ${PROOF_TYPE_DI} with cryptosuite ${CRYPTOSUITE}`, publicKey: null };
  }
  if (proof.proofPurpose !== PROOF_PURPOSE) {
    return { ok: false, reason: `proofPurpose must be ${PROOF_PURPOSE}`, publicKey: null };
  }
  const issuer = credential.issuer;
  const issuerId = isObject(issuer) ? issuer.id : issuer;
  const method = proof.verificationMethod;
  if (typeof issuerId !== "string" || typeof method !== "string" || !method.startsWith(issuerId + "#")) {
    return {
      ok: false,
      reason: `the signing key ${pyRepr(method)} is not a key of the issuer ${pyRepr(issuerId)}`,
      publicKey: null,
    };
  }
  const multibase = method.slice(issuerId.length + 1);
  const parsed = publicKeyFromMultibase(multibase);
  if (parsed.error) return { ok: false, reason: parsed.error, publicKey: null };
  const publicKey = "0x" + bytesToHex(parsed.key);
  const fail = (reason) => ({ ok: false, reason, publicKey });
  const value = proof.proofValue;
  if (typeof value !== "string" || !value.startsWith("z")) {
    return fail("proofValue must be base58btc multibase (starting with 'z')");
  }
  const signature = /^[1-9A-HJ-NP-Za-km-z]*$/.test(value.slice(1)) ? base58Decode(value.slice(1)) : undefined;
  if (signature === undefined) return fail("proofValue is not valid base58btc");
  if (signature.length !== 64) return fail("proofValue is not a 64-byte Ed25519 signature");
  if (twins(credential) > MAX_TWINS) return fail("the credential repeats one structure too often to canonicalise safely");
  let result;
  try {
    const document = plain({ ...credential, proof: [proof] });
    result = await jsigs.verify(document, {
      suite: new DataIntegrityProof({ cryptosuite }),
      purpose: new jsigs.purposes.AssertionProofPurpose(),
      documentLoader: loaderFor(issuerId, method, multibase),
    });
  } catch (exc) {
    return fail(`the credential is not valid JSON-LD: ${exc && exc.message ? exc.message : exc}`);
  }
  if (result.verified) return { ok: true, reason: `the issuer's Ed25519 signature (${CRYPTOSUITE}) verifies`, publicKey };
  const err = firstError(result);
  const message = String((err && err.message) || err);
  if (message === "Invalid signature.") {
    if (await signedOverLegacyForm(credential, proof, loaderFor(issuerId, method, multibase))) return fail(LEGACY_REASON);
    return fail("the issuer's signature does not match: the credential was changed after it was signed");
  }
  if (/never fetched/.test(message)) return fail(message);
  return fail(`the credential is not valid JSON-LD: ${message}`);
}

// Registry releases before 2026-12-07 signed text holding one of five characters over a wrong
// canonical form (docs/format.md v2 §4; registry/core/signing.py `_signed_by_a_legacy_release`):
// the N-Quads cut into lines at U+2028, U+2029 and U+0085 as well (Python's str.splitlines) and
// sorted, with U+FFFE and U+FFFF escaped as Oxigraph writes them. A signature that does not verify
// is tried once more over that form, only to name the mistake: the check fails either way.
const LEGACY_TEXT = /[\u2028\u2029\u0085\ufffe\uffff]/;
const LEGACY_UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/; // such text took pyld's path then
const PY_LINE = /[^\n\r\u000b\u000c\u001c-\u001e\u0085\u2028\u2029]*(?:\r\n|[\n\r\u000b\u000c\u001c-\u001e\u0085\u2028\u2029]|$)/g;
export const LEGACY_REASON =
  "the issuer's signature was made over a wrong canonical form of text holding U+2028, U+2029, U+0085, U+FFFE " +
  "or U+FFFF, by a registry release before 2026-12-07: standard verifiers refuse it. The content, anchor and " +
  "inclusion proof are sound: the issuer signs the file again (registry resign, or a fresh download from the " +
  "issuer's service), with no new issuance";

function byCodePoint(a, b) {
  // Python orders str by code point; UTF-16 code units differ from it only past U+FFFF.
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The wrong form such a release signed, made from the standard canonical N-Quads. */
export function legacyForm(nquads) {
  const text = nquads.replace(/\ufffe/g, "\\uFFFE").replace(/\uffff/g, "\\uFFFF");
  return (text.match(PY_LINE) || []).filter((line) => line).sort(byCodePoint).join("");
}

function strings(value, out = []) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (isObject(value)) for (const [k, v] of Object.entries(value)) out.push(k), strings(v, out);
  return out;
}

/** Whether `proof` verifies over the wrong form a release before 2026-12-07 made of `credential`. */
async function signedOverLegacyForm(credential, proof, documentLoader) {
  const text = strings(credential).join("\n");
  if (!LEGACY_TEXT.test(text) || LEGACY_UNSAFE.test(text)) return false;
  const legacySuite = { ...cryptosuite, canonize: async (input, options) => legacyForm(await cryptosuite.canonize(input, options)) };
  try {
    const result = await jsigs.verify(plain({ ...credential, proof: [proof] }), {
      suite: new DataIntegrityProof({ cryptosuite: legacySuite }),
      purpose: new jsigs.purposes.AssertionProofPurpose(),
      documentLoader,
    });
    return result.verified === true;
  } catch {
    return false;
  }
}

/** SigningKeyInfo.valid_at: null when the key was its issuer's signing key, uncompromised, at `at`. */
function signingKeyProblem(key, at) {
  const when = isoZ(at);
  if (key.issuerId === 0) return "the signing key is not registered by any issuer of the registry";
  if (at < key.since) {
    return `the signing key became the issuer's signing key at ${isoZ(key.since)}, after the batch was anchored at ${when}`;
  }
  // Retirement is not compromise: an anchor in the very second the key was replaced still counts.
  if (key.until !== 0 && at > key.until) {
    return (
      `the signing key was retired at ${isoZ(key.until)} (replaced by a newer one), ` +
      `before the batch was anchored at ${when}`
    );
  }
  if (key.compromisedSince !== 0 && at >= key.compromisedSince) {
    return (
      `the signing key was declared compromised from ${isoZ(key.compromisedSince)}, at or before the batch was ` +
      `anchored at ${when}`
    );
  }
  return null;
}

/**
 * The key binding of a signature that verifies (verify/verifier.py `_signature`): `key` (the
 * chain's record {issuerId, since, until, compromisedSince}, issuerId 0 when unknown) was the
 * signing key of the issuer that anchored `batch`, uncompromised, when the batch was anchored.
 * -> {ok, reason, details}.
 */
export function keyBinding(method, batch, key) {
  const details = { verificationMethod: method };
  if (!key || key.issuerId === 0) {
    return {
      ok: false,
      reason:
        `the signature verifies, but its key ${method} is not a signing key of any issuer in the registry: ` +
        "anyone can make such a key",
      details,
    };
  }
  if (key.issuerId !== batch.issuerId) {
    return {
      ok: false,
      reason: `the signing key ${method} belongs to issuer #${key.issuerId}, not to issuer #${batch.issuerId} that anchored the batch`,
      details,
    };
  }
  const problem = signingKeyProblem(key, batch.anchoredAt);
  if (problem !== null) return { ok: false, reason: problem, details };
  return {
    ok: true,
    reason: `the issuer's Ed25519 signature (${CRYPTOSUITE}) verifies with its signing key of record since ${isoZ(key.since)}`,
    details: { ...details, keySince: isoZ(key.since) },
  };
}
