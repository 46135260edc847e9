// The verifier library: `window.credentialRegistry`'s API, shared by the page (main.js) and the
// library bundle without the page UI (lib.js, registry/artifacts/verifier-lib.js).
import { extractIfBaked } from "./baking.js";
import { euElements } from "./elements.js";
import { reason, setReasons } from "./i18n.js";
import { canonicalIssuerId } from "./identity.js";
import { evaluate, loadPathway, pathwayDigest } from "./pathway.js";
import { checkSignature, PROOF_TYPE_DI } from "./signature.js";
import { verifyStack } from "./stack.js";
import { CHECK_NAMES, OPTIONAL_CHECKS, verify, verifyMany } from "./verifier.js";
// -- rows and CSV: the same columns and escaping as registry/verify/tabular.py ---------------

/** The columns of a bulk verification row (registry.verify.tabular.COLUMNS). */
export const COLUMNS = [
  "file",
  "credential_id",
  "learner_name",
  "achievement",
  "issuer_name",
  "issuer_did",
  "accreditation_body",
  "verdict",
  "failed_checks",
  "reason",
  "anchored_at",
  "valid_until",
];

const text = (v) => (v === null || v === undefined ? "" : String(v));

export const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** The credential JSON of a file (text or bytes, JSON or baked badge) for display, or null. */
export function credentialDocument(data) {
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
    const doc = JSON.parse(new TextDecoder().decode(extractIfBaked(bytes)).replace(/^\ufeff/, ""));
    return isObject(doc) ? doc : null;
  } catch {
    return null;
  }
}

export function subjectOf(doc) {
  let subject = doc ? doc.credentialSubject : null;
  if (Array.isArray(subject)) subject = subject[0];
  return isObject(subject) ? subject : null;
}

/** The learner's name as disclosed in a file (credentialSubject.name), or null. */
export function learnerName(data) {
  const subject = subjectOf(credentialDocument(data));
  return subject && typeof subject.name === "string" ? subject.name : null;
}

/** One row of a report (registry.verify.tabular.row). */
export function reportRow(report, learner = null) {
  const cred = report.credential || {};
  const issuer = report.issuer;
  let issuerName;
  let issuerDid;
  let body = null;
  if (issuer) {
    issuerName = issuer.name;
    issuerDid = issuer.did;
    const a = issuer.accreditor || {};
    body = a.name ? `${a.name} (${a.uri})` : a.address || issuer.accreditedBy;
  } else {
    issuerName = cred.issuerName;
    issuerDid = cred.issuerId;
  }
  const wanted = { INVALID: "fail", INDETERMINATE: "indeterminate" }[report.verdict];
  const open = wanted ? report.checks.filter((c) => c.status === wanted) : [];
  const anchor = report.checks.find((c) => c.name === "anchor");
  return {
    file: text(report.source),
    credential_id: text(cred.id),
    learner_name: text(learner),
    achievement: text(cred.achievement || cred.name),
    issuer_name: text(issuerName),
    issuer_did: text(issuerDid),
    accreditation_body: text(body),
    verdict: report.verdict,
    failed_checks: open.map((c) => c.name).join(", "),
    reason: open.map((c) => `${c.name}: ${c.reason}`).join("; "),
    anchored_at: text(anchor && anchor.details ? anchor.details.anchoredAt : null),
    valid_until: text(cred.validUntil),
  };
}

/** CSV of rows: every field quoted, CRLF, formula-like cells (= + - @ tab CR) prefixed with '. */
export function csvText(rows, { bom = false } = {}) {
  const cell = (v) => {
    let s = text(v);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return `"${s.replaceAll('"', '""')}"`;
  };
  const lines = [COLUMNS, ...rows.map((r) => COLUMNS.map((c) => r[c]))].map((r) => r.map(cell).join(","));
  return (bom ? "\ufeff" : "") + lines.map((l) => `${l}\r\n`).join("");
}

/**
 * The issuer's DataIntegrityProof of a signed credential (JSON text or object; `proof` one proof or
 * a proof set, found by type), checked offline with Digital Bazaar's code as the `signature` check
 * does before it asks the chain about the key: {ok, reason, publicKey (0x-hex Ed25519 key | null)}.
 */
async function verifySignature(credential) {
  const doc = typeof credential === "string" ? JSON.parse(credential) : credential;
  if (!isObject(doc)) throw new TypeError("a signed credential is a JSON object");
  const proofs = Array.isArray(doc.proof) ? doc.proof : [doc.proof];
  const proof = proofs.find((p) => isObject(p) && p.type === PROOF_TYPE_DI);
  if (!proof) return { ok: false, reason: `the credential has no ${PROOF_TYPE_DI}`, publicKey: null };
  const unsigned = Object.fromEntries(Object.entries(doc).filter(([k]) => k !== "proof"));
  return checkSignature(unsigned, proof);
}

/**
 * window.credentialRegistry.verify(fileText | bytes, {rpc, trustedRegistries, now, minConfirmations,
 * offline, source}) -> Promise<report>; verifyBytes is the same for bytes; verifyMany takes
 * [{source, data}] and shares chain reads; verifyStack(pathwayText, [{source, data}] | [text],
 * {...options, learner}) -> Promise<stack report> (registry verify --pathway --json).
 */
export const api = {
  verify,
  verifyBytes: (bytes, options) => verify(bytes, options),
  verifyMany,
  verifyStack,
  loadPathway,
  pathwayDigest: (definition) => pathwayDigest(loadPathway(definition)),
  /** core/stacking.evaluate over components {key, achievement_id, issuer_id, credential_id, digest, credits, eqf_level}. */
  evaluatePathway: (definition, components) => evaluate(loadPathway(definition), components),
  verifySignature,
  reportRow,
  learnerName,
  csvText,
  columns: COLUMNS,
  checkNames: CHECK_NAMES,
  optionalChecks: OPTIONAL_CHECKS,
  euElements,
  canonicalIssuerId,
  /** A check's reason (English) in a language: `table` is {English template: translation}
   * (registry.locales.reasons.reason_table), as the page's own report uses it. */
  translateReason: (text, table) => {
    setReasons(table);
    return reason(text);
  },
  version: "credreg-verifier-page-2",
};
