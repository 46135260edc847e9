// The verification of registry/verify/verifier.py, in the browser: the named checks format,
// integrity, inclusion, anchor, issuer, signature (format v2 files carrying the issuer's
// DataIntegrityProof), revocation, lineage (files claiming to replace another credential) and
// validity, each pass / fail / indeterminate with a reason, and the verdict. The report has the shape of `registry verify --json`
// (Report.model_dump(mode="json")).
import { getAddress } from "viem";
import { extractIfBaked, BadgeError } from "./baking.js";
import { ChainReader, ChainUnavailable, ConfigError, Directory, NotARegistry, Rpc } from "./chain.js";
import { computeDigest, computeDigestV2, verifyInclusion } from "./digest.js";
import { FormatError, hides, parseCredentialFile } from "./format.js";
import { identityConflict, issuerDid, namedIdentity } from "./identity.js";
import { lineageCheck, revocationCheck } from "./revocation.js";
import { checkSignature, keyBinding } from "./signature.js";
import { clock, isoZ, parseTime } from "./time.js";

export const CHECK_NAMES = [
  "format",
  "integrity",
  "inclusion",
  "anchor",
  "issuer",
  "signature",
  "revocation",
  "lineage",
  "validity",
];
/**
 * Checks a report holds only when they apply: `signature` for a file carrying a DataIntegrityProof,
 * `lineage` for a file claiming to replace another credential (`supersedes`).
 */
export const OPTIONAL_CHECKS = ["signature", "lineage"];
/** The checks that read the chain (INDETERMINATE together when it cannot be read). */
const CHAIN_CHECKS = ["anchor", "issuer", "signature", "revocation", "lineage"];
const PASS = "pass";
const FAIL = "fail";
const INDETERMINATE = "indeterminate";

function pyRepr(s) {
  if (typeof s !== "string") return s === null || s === undefined ? "None" : JSON.stringify(s);
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return q + s.replace(/\\/g, "\\\\").split(q).join("\\" + q) + q;
}

function truthy(v) {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Trusted registries: a list `[{chainId, address, source?}]` or a mapping
 * `{chainId: [address, ...] | {address: source}}`. -> Map<chainId, Map<checksum address, source>>.
 */
export function trustTable(trusted) {
  const table = new Map();
  const add = (chainId, address, source) => {
    const id = Number(chainId);
    if (!table.has(id)) table.set(id, new Map());
    let key;
    try {
      key = getAddress(String(address).toLowerCase());
    } catch {
      throw new TypeError(`trustedRegistries: ${address} is not an address`);
    }
    table.get(id).set(key, source || "the caller's policy");
  };
  if (Array.isArray(trusted)) {
    for (const entry of trusted) add(entry.chainId, entry.address, entry.source);
  } else if (isObject(trusted)) {
    for (const [chainId, entries] of Object.entries(trusted)) {
      if (Array.isArray(entries)) entries.forEach((a) => add(chainId, a));
      else if (isObject(entries)) Object.entries(entries).forEach(([a, s]) => add(chainId, a, s));
    }
  } else if (trusted !== undefined && trusted !== null) {
    throw new TypeError("trustedRegistries: a list of {chainId, address} or a mapping chainId -> addresses");
  }
  return table;
}

class Item {
  constructor(source) {
    this.source = source;
    this.checks = {};
    this.cf = null;
    this.issuerInfo = null;
    /** The offline check of the issuer's DataIntegrityProof: {ok, reason, publicKey}. */
    this.signature = null;
  }
  set(name, status, reason, details = {}) {
    this.checks[name] = { name, status, reason, details };
  }
  pending(name) {
    return !(name in this.checks);
  }
  /** Whether check `name` belongs in this file's report (signature: only with a DataIntegrityProof; lineage: only with a claim). */
  applies(name) {
    if (name === "signature") return this.cf !== null && this.cf.signature !== null;
    if (name === "lineage") return this.cf !== null && this.cf.supersedes !== null;
    return true;
  }
}

function toBytes(data) {
  if (typeof data === "string") return null;
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) return Uint8Array.from(data);
  throw new TypeError("expected text (string) or bytes (Uint8Array / ArrayBuffer)");
}

/** A file that could not be read at all (an archive's entry, say): ``format`` fails with ``reason``. */
function unreadable(source, reason) {
  const item = new Item(source);
  item.set("format", FAIL, reason);
  for (const name of CHECK_NAMES.slice(1)) {
    if (!OPTIONAL_CHECKS.includes(name)) item.set(name, INDETERMINATE, "not checked: the file is not a valid credential file");
  }
  return item;
}

async function offlineChecks(source, data, now) {
  const item = new Item(source);
  let cf;
  try {
    // A parsed JSON object is read like its text (as Python serialises a Mapping and parses it).
    const parsed = isObject(data) && !ArrayBuffer.isView(data) && !(data instanceof ArrayBuffer);
    let payload = parsed ? JSON.stringify(data) : data;
    const bytes = toBytes(payload);
    if (bytes !== null) payload = extractIfBaked(bytes);
    else if (/^[\ufeff \t\r\n]*</.test(payload)) payload = extractIfBaked(new TextEncoder().encode(payload));
    cf = parseCredentialFile(payload);
  } catch (exc) {
    if (!(exc instanceof FormatError || exc instanceof BadgeError)) throw exc;
    // As the CLI: a refusal of the format as a whole gives its problem alone (no "format: format:").
    const whole = exc instanceof FormatError && exc.where === "format";
    return unreadable(source, whole ? exc.problem : exc.message);
  }
  item.cf = cf;
  const proof = cf.proof;
  item.digest = proof.credentialDigest;
  item.root = proof.merkleRoot;
  item.chainId = proof.chainId;
  item.registry = getAddress(proof.registry);
  item.set("format", PASS, `well-formed credential file (credreg-proof-v${cf.version}, Open Badges 3.0 schema)`, {
    version: cf.version,
    disclosure: cf.disclosure,
  });
  try {
    const actual =
      cf.version === 2
        ? computeDigestV2(cf.credential, cf.salts, cf.redactedPointers, cf.unsafeInts)
        : computeDigest(cf.credential, cf.salts, cf.redacted, cf.unsafeInts);
    if (actual !== cf.digest) {
      throw new Error(
        `/proof/0/credentialDigest: recomputed digest ${actual} differs from ${cf.digest}: the credential, its salts or its redacted hashes were altered`,
      );
    }
    item.set("integrity", PASS, "credential digest recomputed from the disclosed fields and salts", {
      digest: item.digest,
      hidden: cf.redacted.length,
    });
  } catch (exc) {
    item.set(
      "integrity",
      FAIL,
      `the content does not match the anchored digest: ${exc.message}. The file was altered after issuance.`,
    );
  }
  try {
    verifyInclusion(cf.root, cf.digest, cf.path);
    item.set("inclusion", PASS, "the Merkle path leads from the credential digest to the batch root", {
      root: item.root,
      depth: cf.path.length,
    });
  } catch (exc) {
    item.set("inclusion", FAIL, `${exc.message}: this credential is not part of the batch it names`);
  }
  if (cf.signature !== null) {
    item.signature = await checkSignature(cf.credential, cf.signature);
    if (!item.signature.ok) {
      item.set("signature", FAIL, item.signature.reason, { verificationMethod: cf.signature.verificationMethod });
    }
  }
  validity(item, now);
  return item;
}

function validity(item, now) {
  const doc = item.cf.credential;
  const validFrom = parseTime(doc.validFrom);
  const validUntil = parseTime(doc.validUntil);
  if (validFrom === null) {
    item.set("validity", FAIL, "validFrom is missing or not a date-time");
  } else if (now < validFrom) {
    item.set("validity", FAIL, `not yet valid: valid from ${doc.validFrom}`, { validFrom: doc.validFrom });
  } else if (validUntil === null && hides(item.cf, "/validUntil") !== false) {
    item.set(
      "validity",
      INDETERMINATE,
      item.cf.version >= 2
        ? "the file hides its validUntil: the expiry date cannot be checked; ask the holder for a copy that shows it"
        : `the file shows no validUntil but hides ${item.cf.redacted.length} field(s): an expiry date may be among them ` +
            "(a correct redaction never hides validUntil); ask the holder for a copy that hides less",
      { validFrom: doc.validFrom },
    );
  } else if (validUntil !== null && now > validUntil) {
    item.set("validity", FAIL, `expired on ${doc.validUntil}`, { validUntil: doc.validUntil });
  } else {
    const until = validUntil !== null ? ` until ${doc.validUntil}` : " with no expiry";
    item.set("validity", PASS, `valid from ${doc.validFrom}${until}`, {
      validFrom: "validFrom" in doc ? doc.validFrom : null,
      validUntil: "validUntil" in doc ? doc.validUntil : null,
    });
  }
}

function indeterminate(group, reason) {
  for (const item of group) {
    for (const name of CHAIN_CHECKS) if (item.applies(name) && item.pending(name)) item.set(name, INDETERMINATE, reason);
  }
}

function anchorCheck(item, batch, head, chainId, registry, minConfirmations) {
  const confirmations = head - batch.blockNumber + 1;
  const details = {
    chainId,
    registry,
    block: batch.blockNumber,
    anchoredAt: isoZ(batch.anchoredAt),
    confirmations,
    credentialCount: batch.count,
  };
  const claimed = item.cf.proof.anchorBlock;
  if (claimed !== batch.blockNumber) {
    item.set(
      "anchor",
      FAIL,
      `the file says the batch was anchored in block ${claimed}, the chain says block ${batch.blockNumber}`,
      details,
    );
  } else if (confirmations < minConfirmations) {
    item.set(
      "anchor",
      INDETERMINATE,
      `anchored in block ${batch.blockNumber} but only ${confirmations} of ${minConfirmations} confirmations yet; check again shortly`,
      details,
    );
  } else {
    item.set(
      "anchor",
      PASS,
      `batch root anchored on chain ${chainId} in block ${batch.blockNumber} at ${isoZ(batch.anchoredAt)} (${confirmations} confirmations)`,
      details,
    );
  }
}

function accreditorJson(body) {
  const named = Boolean(body.name);
  return { address: body.address, name: named ? body.name : null, uri: named ? body.uri : null };
}

function issuerCheck(item, batch, key, issuer, registry, trusted, identity, conflict, did, accreditor) {
  // The body that admitted the issuer, by name when it has a directory entry (else by address).
  const body = accreditor || { address: issuer.admittedBy, name: "", uri: "" };
  const bodyLabel = body.name ? `${body.name} (${body.uri})` : body.address;
  const named = "issuer" in item.cf.credential ? item.cf.credential.issuer : {};
  const namedId = isObject(named) ? named.id : named;
  const claimedKey = getAddress(item.cf.proof.issuerAddress);
  const info = {
    issuerId: issuer.issuerId,
    name: issuer.name,
    uri: issuer.uri,
    did,
    accreditedBy: issuer.admittedBy,
    accreditor: accreditorJson(body),
    admittedAt: isoZ(issuer.admittedAt),
    anchoringKey: key.address,
    suspendedAt: issuer.suspendedAt !== 0 ? isoZ(issuer.suspendedAt) : null,
    keyCompromisedAt: key.compromisedAt ? isoZ(key.compromisedAt) : null,
    registryPinned: trusted !== null,
    trustSource: trusted,
  };
  item.issuerInfo = info;
  const compromised = key.compromisedAt !== 0 && batch.anchoredAt >= key.compromisedAt;
  if (trusted === null && conflict !== null) {
    // A registry the user trusts admits the identity this file names: most likely a look-alike.
    item.set("issuer", INDETERMINATE, conflict, { lookalikeOf: identity, ...info });
  } else if (trusted === null) {
    item.set(
      "issuer",
      INDETERMINATE,
      `registry ${registry} on chain ${item.chainId} is not one you trust, so its directory cannot vouch for ` +
        `${pyRepr(issuer.name)}: anyone can deploy a registry and admit any name. If it is the registry you expect, ` +
        `trust it with \`registry trust add ${item.chainId} ${registry}\` (or add it to the trusted registries of this page)`,
      info,
    );
  } else if (claimedKey !== key.address) {
    item.set("issuer", FAIL, `the file names anchoring key ${claimedKey}, but the batch was anchored by ${key.address}`, info);
  } else if (identity !== did) {
    item.set(
      "issuer",
      FAIL,
      `the credential names issuer ${pyRepr(namedId)}, but the batch was anchored by the key of directory entry ` +
        `${pyRepr(did)} (${issuer.name}): an issuer cannot issue in another's name`,
      info,
    );
  } else if (conflict !== null) {
    item.set("issuer", FAIL, conflict, info);
  } else if (compromised) {
    item.set(
      "issuer",
      FAIL,
      `the anchoring key ${key.address} was declared compromised from ${isoZ(key.compromisedAt)}; this batch was ` +
        `anchored after that, at ${isoZ(batch.anchoredAt)}`,
      info,
    );
  } else if (batch.anchoredAt < issuer.admittedAt) {
    item.set("issuer", FAIL, "the batch predates the issuer's admission", info);
  } else if (issuer.suspendedAt !== 0) {
    item.set(
      "issuer",
      FAIL,
      `${issuer.name} (${did}) has been suspended by its accreditation body since ${isoZ(issuer.suspendedAt)}`,
      info,
    );
  } else {
    item.set(
      "issuer",
      PASS,
      `issued by ${issuer.name} (${did}), admitted ${isoZ(issuer.admittedAt)} by accreditation body ` +
        `${bodyLabel}; anchoring key valid at anchoring time; registry trusted via ${trusted}`,
      info,
    );
  }
}

/** The `signature` check once the chain has answered: the key's binding (signature.js keyBinding). */
function signatureCheck(item, batch, key) {
  const { ok, reason, details } = keyBinding(item.cf.signature.verificationMethod, batch, key);
  item.set("signature", ok ? PASS : FAIL, reason, details);
}

/**
 * For a file from a registry the user does not trust: a warning when a registry the user does
 * trust on that chain admits the very identity the file names (a look-alike issuing in a real
 * issuer's name), as verify/verifier.py `_owner_elsewhere`. A hint only: it never passes a check.
 */
async function ownerElsewhere(reader, chainId, registry, identity, entries) {
  if (!entries || !identity) return null;
  for (const [address, source] of entries) {
    if (address === registry) continue;
    let owner;
    try {
      const [[id]] = await new ChainReader(reader.rpc, address).views([["issuerIdByUri", [identity]]]);
      owner = Number(id);
    } catch {
      continue;
    }
    if (owner) {
      return (
        `registry ${registry} on chain ${chainId} is not one you trust, and the issuer this file names, ${identity}, ` +
        `is admitted as entry #${owner} of registry ${address}, which you do trust (${source}): a file in its name ` +
        "anchored in another registry is most likely a look-alike's forgery. Do not trust this registry unless the " +
        "issuer itself confirms it uses it"
      );
    }
  }
  return null;
}

async function readAndCheck(reader, chainId, registry, group, policy) {
  const { issuerDid } = policy;
  const snap = await reader.snapshot(
    group.map((i) => i.root),
    group.map((i) => [i.root, i.digest]),
    group.map((i) => namedIdentity(i.cf.credential)),
    group.filter((i) => i.signature !== null && i.signature.ok).map((i) => i.signature.publicKey),
    group.filter((i) => i.cf.supersedes !== null).map((i) => [i.root, i.cf.supersedes.credentialDigest]),
  );
  if (snap.chainId !== chainId) {
    indeterminate(
      group,
      `the RPC ${reader.rpc.url} serves chain ${snap.chainId}, but the credential was anchored on chain ${chainId}: ` +
        `give an RPC endpoint of chain ${chainId}`,
    );
    return;
  }
  if (!snap.hasCode) {
    for (const item of group) item.set("anchor", FAIL, `there is no contract at ${registry} on chain ${chainId}`);
    indeterminate(group, "not checked: the registry contract does not exist");
    return;
  }
  const entries = policy.trust.get(chainId);
  const trusted = entries && entries.has(registry) ? entries.get(registry) : null;
  const directory = new Directory(reader);
  for (const item of group) {
    const batch = snap.batches.get(item.root.toLowerCase());
    if (!batch) {
      item.set("anchor", FAIL, `the root ${item.root} is not anchored in registry ${registry} on chain ${chainId}`);
      indeterminate([item], "not checked: the batch root is not on chain");
      continue;
    }
    anchorCheck(item, batch, snap.head, chainId, registry, policy.minConfirmations);
    const entry = snap.issuers.get(batch.issuerId);
    const identity = namedIdentity(item.cf.credential);
    const did = issuerDid(entry.uri);
    const conflict =
      trusted === null
        ? await ownerElsewhere(reader, chainId, registry, identity, entries)
        : await identityConflict(identity, { ...entry, did }, snap.owners.get(identity) ?? 0, directory);
    issuerCheck(
      item,
      batch,
      snap.keys.get(batch.keyId),
      entry,
      registry,
      trusted,
      identity,
      conflict,
      did,
      snap.accreditors.get(entry.admittedBy),
    );
    if (item.signature !== null && item.signature.ok) {
      signatureCheck(item, batch, snap.signingKeys.get(item.signature.publicKey));
    }
    const own = `${batch.issuerId}|${item.digest.toLowerCase()}`;
    revocationCheck(item, batch, snap.revocations.get(own), snap.supersessions.get(own) ?? null);
    if (item.cf.supersedes !== null) {
      lineageCheck(item, snap.supersessions.get(`${batch.issuerId}|${item.cf.supersedes.credentialDigest}`) ?? null);
    }
  }
}

async function chainChecks(chainId, registry, group, policy) {
  try {
    if (!policy.rpc) {
      throw new ConfigError(`no RPC URL known for chain ${chainId}: give the RPC URL of chain ${chainId}`);
    }
    const reader = new ChainReader(new Rpc(policy.rpc, policy.timeoutMs), registry);
    await readAndCheck(reader, chainId, registry, group, policy);
  } catch (exc) {
    if (exc instanceof ConfigError) indeterminate(group, exc.message);
    else if (exc instanceof NotARegistry) {
      for (const item of group) item.set("anchor", FAIL, exc.message);
      indeterminate(group, "not checked: the address is not a credential registry");
    } else if (exc instanceof ChainUnavailable) {
      indeterminate(group, `could not read the chain (${exc.reason}); try again or use another RPC`);
    } else throw exc;
  }
}

function report(item, policy, checkedAt) {
  const checks = CHECK_NAMES.filter((name) => name in item.checks).map((name) => item.checks[name]);
  let verdict;
  let summary;
  const failed = checks.filter((c) => c.status === FAIL);
  const open = checks.filter((c) => c.status === INDETERMINATE);
  if (failed.length) {
    verdict = "INVALID";
    summary = failed.map((c) => `${c.name}: ${c.reason}`).join("; ");
  } else if (open.length) {
    verdict = "INDETERMINATE";
    summary = open.map((c) => `${c.name}: ${c.reason}`).join("; ");
  } else {
    verdict = "VALID";
    summary = "all checks passed";
  }
  let credential = {};
  let hidden = [];
  let redacted = 0;
  const proofs = [];
  if (item.cf !== null) {
    const doc = item.cf.credential;
    const get = (o, k) => (isObject(o) && k in o ? o[k] : null);
    const subject = "credentialSubject" in doc ? doc.credentialSubject : {};
    const achievement = isObject(subject) ? ("achievement" in subject ? subject.achievement : {}) : {};
    const issuer = "issuer" in doc ? doc.issuer : {};
    const name = get(doc, "name");
    credential = {
      id: get(doc, "id"),
      name: truthy(name) ? name : get(achievement, "name"),
      achievement: get(achievement, "name"),
      issuerId: isObject(issuer) ? get(issuer, "id") : issuer,
      issuerName: isObject(issuer) ? get(issuer, "name") : null,
      validFrom: get(doc, "validFrom"),
      validUntil: get(doc, "validUntil"),
      digest: item.digest,
      root: item.root,
      chainId: item.chainId,
      registry: item.registry,
    };
    hidden = [...item.cf.hiddenPaths];
    redacted = item.cf.redacted.length;
    if (item.cf.signature !== null) proofs.push(`${item.cf.signature.type} ${item.cf.signature.cryptosuite}`);
    proofs.push(String(item.cf.proof.type));
  }
  return {
    source: item.source,
    verdict,
    summary,
    checks,
    credential,
    issuer: item.issuerInfo,
    hidden_fields: hidden,
    redacted_field_count: redacted,
    proofs,
    offline: policy.offline,
    checked_at: checkedAt,
  };
}

function makePolicy(options = {}) {
  const minConfirmations = options.minConfirmations ?? 1;
  if (!Number.isInteger(minConfirmations) || minConfirmations < 1) {
    throw new TypeError("minConfirmations: a positive integer");
  }
  return {
    rpc: options.rpc || null,
    trust: trustTable(options.trustedRegistries),
    now: clock(options.now),
    minConfirmations,
    offline: Boolean(options.offline),
    timeoutMs: options.timeoutMs ?? 10000,
  };
}

/**
 * Verify several files (shared chain reads per chain and registry, like Verifier.verify_many).
 * files: [{source?, data}] with data a string or bytes, or [{source, problem}] for a file that
 * could not be read (an INVALID ``format`` report with that reason). Resolves to a list of reports.
 * options.onProgress(done, total), if given, is called (and awaited) after each file's offline
 * checks: a page can show how far a long run is, and yield to the browser to paint it.
 */
export async function verifyMany(files, options = {}) {
  const policy = makePolicy(options);
  policy.issuerDid = issuerDid;
  const items = [];
  for (const [i, f] of files.entries()) {
    const source = f.source ?? options.source ?? `credential ${i + 1}`;
    // {source, problem}: a file that could not be read (archive.js) is a row of its own.
    items.push(f.problem !== undefined ? unreadable(source, f.problem) : await offlineChecks(source, f.data, policy.now.micros));
    if (options.onProgress) await options.onProgress(i + 1, files.length);
  }
  if (policy.offline) {
    for (const item of items) {
      for (const name of CHAIN_CHECKS) {
        if (item.applies(name) && item.pending(name)) {
          item.set(
            name,
            INDETERMINATE,
            name === "signature"
              ? "not checked: offline mode: the signature verifies, but whether its key was the issuer's signing key " +
                  "when the batch was anchored is on the chain, which was not consulted"
              : "not checked: offline mode, the chain was not consulted",
          );
        }
      }
    }
  } else {
    const groups = new Map();
    for (const item of items) {
      if (item.cf !== null && item.pending("anchor")) {
        const key = `${item.chainId}|${item.registry}`;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(item);
      }
    }
    for (const group of groups.values()) await chainChecks(group[0].chainId, group[0].registry, group, policy);
  }
  return items.map((item) => report(item, policy, policy.now.iso));
}

/** Verify one file (text, or bytes of a JSON file or a baked PNG/SVG badge). */
export async function verify(data, options = {}) {
  const [one] = await verifyMany([{ source: options.source ?? "<credential>", data }], options);
  return one;
}
