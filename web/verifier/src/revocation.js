// The `revocation` and `lineage` checks of registry/verify/checks.py: whether the credential or
// its batch is revoked (a credential replaced by a supersession names its successor), and whether
// the registry records the supersession a file claims (`supersedes`, docs/format.md §4a).
import { isoZ } from "./time.js";

export const REVOCATION_REASONS = {
  0: "unspecified",
  1: "issued in error",
  2: "superseded by a new credential",
  3: "academic or professional misconduct",
  4: "issuer key compromised",
  5: "withdrawn at the holder's request",
  6: "achievement requirements no longer met",
};
/** The supersession kinds of the registry (registry.chain.model.SUPERSESSION_KINDS). */
export const SUPERSESSION_KINDS = { 1: "correction", 2: "renewal" };
const PASS = "pass";
const FAIL = "fail";

export const kindName = (kind) => SUPERSESSION_KINDS[kind] ?? `kind ${kind}`;
const day = (seconds) => isoZ(seconds).slice(0, 10);

/**
 * `revocation`: neither the batch nor the credential (in the batch issuer's namespace) is revoked;
 * `supersession` is the chain's record when the credential was replaced (else null).
 */
export function revocationCheck(item, batch, revocation, supersession = null) {
  if (batch.revokedAt !== 0) {
    const reason = REVOCATION_REASONS[batch.revocationReason] ?? `code ${batch.revocationReason}`;
    item.set("revocation", FAIL, `the whole batch was revoked by the issuer on ${isoZ(batch.revokedAt)}: ${reason}`, {
      revokedAt: isoZ(batch.revokedAt),
      reasonCode: batch.revocationReason,
      scope: "batch",
    });
  } else if (revocation && supersession) {
    const kind = kindName(supersession.kind);
    item.set("revocation", FAIL, `superseded by ${supersession.newId} on ${day(supersession.supersededAt)}: ${kind}`, {
      revokedAt: isoZ(revocation.revokedAt),
      reasonCode: revocation.reason,
      scope: "credential",
      supersededBy: supersession.newId,
      supersededByDigest: supersession.newDigest,
      supersededAt: isoZ(supersession.supersededAt),
      kind,
    });
  } else if (revocation) {
    const reason = REVOCATION_REASONS[revocation.reason] ?? `code ${revocation.reason}`;
    item.set("revocation", FAIL, `revoked by the issuer on ${isoZ(revocation.revokedAt)}: ${reason}`, {
      revokedAt: isoZ(revocation.revokedAt),
      reasonCode: revocation.reason,
      scope: "credential",
    });
  } else {
    item.set("revocation", PASS, "neither the credential nor its batch is revoked");
  }
}

/**
 * `lineage`, for a file claiming to replace another credential: the registry records that
 * supersession, by this very credential (`supersession`: the record of the claimed digest in the
 * namespace of the issuer that anchored this file's batch, null when there is none).
 */
export function lineageCheck(item, supersession) {
  const claim = item.cf.supersedes;
  const details = { replaces: claim.id, replacesDigest: claim.credentialDigest, kind: claim.kind };
  if (!supersession || supersession.newDigest !== item.digest.toLowerCase()) {
    item.set("lineage", FAIL, `claims to replace ${claim.id} but the registry records no such supersession`, details);
  } else if (kindName(supersession.kind) !== claim.kind) {
    item.set(
      "lineage",
      FAIL,
      `claims to replace ${claim.id} by a ${claim.kind}, but the registry records a ${kindName(supersession.kind)}`,
      details,
    );
  } else {
    item.set("lineage", PASS, `replaces ${claim.id} (${claim.kind}, on ${day(supersession.supersededAt)})`, {
      ...details,
      supersededAt: isoZ(supersession.supersededAt),
    });
  }
}
