// Stack verification, as registry/verify/stack.py does it (docs/pathways.md): every component gets
// all the usual checks (verifier.js verifyMany, one batched round of chain reads), then three checks
// of the stack: `pathway` (the definition's digest anchored in the components' trusted registry by
// the pathway's owner, with a key not compromised then), `learner` (each component's salted
// identityHash recomputed from the one e-mail the holder discloses) and `rule` (the requirements
// evaluated over the VALID components, pathway.js). The report is StackReport.model_dump(mode="json").
import { getAddress } from "viem";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils";
import { extractIfBaked, BadgeError } from "./baking.js";
import { ChainReader, ChainUnavailable, ConfigError, NotARegistry, Rpc } from "./chain.js";
import { FormatError, parseCredentialFile } from "./format.js";
import { issuerDid, pyStrip } from "./identity.js";
import { isPlainObject } from "./json.js";
import { InvalidInput, componentOf, evaluate, loadPathway, pathwayDigest, pyG } from "./pathway.js";
import { trustTable, verifyMany } from "./verifier.js";

export const STACK_CHECKS = ["pathway", "learner", "rule"];
const PASS = "pass";
const FAIL = "fail";
const INDETERMINATE = "indeterminate";

const check = (name, status, reason, details = {}) => ({ name, status, reason, details });

/** OB 3.0 IdentityHash of an e-mail: "sha256$" + hex(sha256(lower(strip(email)) + salt)). */
export function identityHash(email, salt) {
  return "sha256$" + bytesToHex(sha256(utf8ToBytes(pyStrip(email).toLowerCase() + salt)));
}

/** core/credential.recipient_matches: `email` (any case) is an e-mail identity of the subject. */
export function recipientMatches(credential, email) {
  const subject = isPlainObject(credential) ? credential.credentialSubject : null;
  if (!isPlainObject(subject) || typeof email !== "string") return false;
  const identifiers = subject.identifier;
  if (!Array.isArray(identifiers)) return false;
  const wanted = pyStrip(email).toLowerCase();
  for (const ident of identifiers) {
    if (!isPlainObject(ident) || ident.identityType !== "emailAddress") continue;
    const value = ident.identityHash;
    if (typeof value !== "string") continue;
    if (ident.hashed === true) {
      const salt = "salt" in ident ? ident.salt : "";
      if (typeof salt !== "string" || !value.startsWith("sha256$")) continue;
      if (value.toLowerCase() === identityHash(wanted, salt)) return true;
    } else if (pyStrip(value).toLowerCase() === wanted) {
      return true;
    }
  }
  return false;
}

/** The credential document of a file, as the verifier reads it (null when it is not one). */
function credentialOf(data) {
  try {
    const bytes = data instanceof ArrayBuffer || ArrayBuffer.isView(data);
    let payload = isPlainObject(data) && !bytes ? JSON.stringify(data) : data;
    if (payload instanceof ArrayBuffer) payload = new Uint8Array(payload);
    else if (ArrayBuffer.isView(payload)) payload = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
    if (payload instanceof Uint8Array) payload = extractIfBaked(payload);
    else if (typeof payload === "string" && /^[\ufeff \t\r\n]*</.test(payload)) {
      payload = extractIfBaked(utf8ToBytes(payload));
    }
    return parseCredentialFile(payload).credential;
  } catch (exc) {
    if (exc instanceof FormatError || exc instanceof BadgeError) return null; // the report already says why
    throw exc;
  }
}

function compareStrings(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Is the pathway's digest anchored by its owner in the components' (trusted) registry? */
async function pathwayCheck(options, pathway, digest, reports) {
  const seen = new Map();
  for (const r of reports) {
    if (r.credential && r.credential.registry) {
      const place = [Number(r.credential.chainId), String(r.credential.registry)];
      seen.set(place.join("|"), place);
    }
  }
  const places = [...seen.values()].sort((a, b) => a[0] - b[0] || compareStrings(a[1], b[1]));
  if (!places.length) return check("pathway", INDETERMINATE, "no readable component names a registry to look in");
  if (places.length > 1) {
    const where = places.map(([c, r]) => `${r} on chain ${c}`).join(", ");
    return check(
      "pathway",
      INDETERMINATE,
      `the components come from several registries (${where}): a stack is checked in one`,
    );
  }
  const [chainId, registry] = places[0];
  if (options.offline) return check("pathway", INDETERMINATE, "not checked: offline mode, the chain was not consulted");
  const entries = trustTable(options.trustedRegistries).get(chainId);
  const trust = entries ? entries.get(getAddress(registry.toLowerCase())) ?? null : null;
  let snap;
  try {
    if (!options.rpc) throw new ConfigError(`no RPC URL known for chain ${chainId}: give the RPC URL of chain ${chainId}`);
    const reader = new ChainReader(new Rpc(options.rpc, options.timeoutMs ?? 10000), registry);
    snap = await reader.snapshot([digest], [], []);
  } catch (exc) {
    let why;
    if (exc instanceof ChainUnavailable) why = `chain RPC ${options.rpc} unavailable: ${exc.reason}`;
    else if (exc instanceof NotARegistry || exc instanceof ConfigError) why = exc.message;
    else throw exc;
    return check("pathway", INDETERMINATE, `could not read the chain: ${why}`);
  }
  const batch = snap.batches.get(digest.toLowerCase());
  if (!batch) {
    return check(
      "pathway",
      FAIL,
      `pathway ${pathway.id} version ${pathway.version} (digest ${digest}) is not anchored in registry ` +
        `${registry} on chain ${chainId}: its rule is nobody's word (\`registry pathway publish\` anchors it)`,
    );
  }
  const issuer = snap.issuers.get(batch.issuerId);
  const key = snap.keys.get(batch.keyId);
  const details = { chainId, registry, block: batch.blockNumber, anchoredAt: batch.anchoredAt };
  if (!issuer || issuerDid(issuer.uri) !== pathway.owner) {
    const named = issuer ? `${issuer.name} (${issuer.uri})` : `issuer #${batch.issuerId}`;
    return check("pathway", FAIL, `the pathway's digest was anchored by ${named}, not by its owner ${pathway.owner}`, details);
  }
  if (key && key.compromisedAt !== 0 && batch.anchoredAt >= key.compromisedAt) {
    return check(
      "pathway",
      FAIL,
      `the pathway was anchored with key ${key.address}, declared compromised from before that time`,
      details,
    );
  }
  if (trust === null) {
    return check(
      "pathway",
      INDETERMINATE,
      `registry ${registry} on chain ${chainId} is not one you trust (\`registry trust add ${chainId} ${registry}\`, ` +
        "or add it to the trusted registries of this page)",
      details,
    );
  }
  return check(
    "pathway",
    PASS,
    `pathway ${pathway.id} version ${pathway.version} anchored by its owner ${issuer.name} (${pathway.owner}) ` +
      `in block ${batch.blockNumber}`,
    details,
  );
}

/** INVALID > INDETERMINATE (a component, or any stack check but the rule) > INCOMPLETE > VALID. */
function verdictOf(reports, checks) {
  const rule = checks.find((c) => c.name === "rule");
  const bad = reports.filter((r) => r.verdict === "INVALID");
  const open = reports.filter((r) => r.verdict === "INDETERMINATE");
  const failed = checks.filter((c) => c.status === FAIL);
  const undecided = checks.filter((c) => c.name !== "rule" && c.status === INDETERMINATE);
  if (bad.length || failed.length) {
    return [
      "INVALID",
      [...bad.map((r) => `${r.source} is INVALID (${r.summary})`), ...failed.map((c) => `${c.name}: ${c.reason}`)].join("; "),
    ];
  }
  if (open.length || undecided.length) {
    return [
      "INDETERMINATE",
      [
        ...open.map((r) => `${r.source} is INDETERMINATE (${r.summary})`),
        ...undecided.map((c) => `${c.name}: ${c.reason}`),
      ].join("; "),
    ];
  }
  if (rule.status === INDETERMINATE) return ["INCOMPLETE", rule.reason];
  return ["VALID", `complete: ${rule.reason}; every component VALID`];
}

/**
 * verify_stack: `files` ([{source, data}] or texts) verified as one learner's stack toward the
 * pathway (its JSON text, bytes or object). Options as verifyMany's, plus `learner` (the e-mail the
 * holder discloses once; null or absent leaves the `learner` check INDETERMINATE). A bad pathway
 * definition throws InvalidPathway (field: its JSON pointer) and no files throws InvalidInput; bad
 * files are INVALID components, never errors.
 */
export async function verifyStack(pathwayData, files, options = {}) {
  const pathway = loadPathway(pathwayData);
  const digest = pathwayDigest(pathway);
  const info = { id: pathway.id, version: pathway.version, name: pathway.name, owner: pathway.owner, digest };
  if (!Array.isArray(files) || !files.length) throw new InvalidInput("files", "a stack needs at least one credential file");
  const named = files.map((f, i) =>
    typeof f === "string" || f instanceof Uint8Array || f instanceof ArrayBuffer
      ? { source: `credential ${i + 1}`, data: f }
      : { source: f.source ?? `credential ${i + 1}`, data: f.data },
  );
  const reports = await verifyMany(named, options);
  const parsed = new Map();
  named.forEach((f, i) => {
    if (reports[i].verdict !== "INVALID") {
      const doc = credentialOf(f.data);
      if (doc !== null) parsed.set(f.source, doc);
    }
  });
  const checks = [await pathwayCheck(options, pathway, digest, reports)];
  for (const k of ["chainId", "registry", "block", "anchoredAt"]) if (k in checks[0].details) info[k] = checks[0].details[k];

  const learner = options.learner ?? null;
  if (learner === null) {
    checks.push(
      check(
        "learner",
        INDETERMINATE,
        "no learner given: disclose the learner's e-mail once (--learner, or the page's Learner e-mail) to bind " +
          "the files to one person",
      ),
    );
  } else {
    const others = [...parsed].filter(([, doc]) => !recipientMatches(doc, learner)).map(([name]) => name);
    checks.push(
      others.length
        ? check("learner", FAIL, `${others.join(", ")} name(s) another learner: a stack is one person's`, { files: others })
        : check("learner", PASS, `every readable component names the learner ${learner}`),
    );
  }

  const components = [];
  let result = null;
  let evaluation = null;
  try {
    // A VALID file can still state what no pathway counts (negative credits): the rule fails.
    named.forEach((f, i) => {
      if (reports[i].verdict === "VALID" && parsed.has(f.source)) {
        components.push(componentOf(f.source, parsed.get(f.source), String(reports[i].credential.digest)));
      }
    });
    evaluation = evaluate(pathway, components);
  } catch (exc) {
    if (!(exc instanceof InvalidInput)) throw exc;
    checks.push(check("rule", FAIL, exc.message));
  }
  if (evaluation !== null) {
    result = evaluation;
    if (evaluation.complete) {
      checks.push(
        check("rule", PASS, `the requirements of ${pathway.name} are met (${pyG(evaluation.total_credits)} credits)`),
      );
    } else {
      const missing = [...evaluation.missing];
      checks.push(
        check(
          "rule",
          INDETERMINATE,
          "not complete yet: " + (missing.slice(0, 5).join("; ") || "the qualification's credits are not reached"),
          { missing },
        ),
      );
    }
  }
  const [verdict, summary] = verdictOf(reports, checks);
  return { verdict, summary, pathway: info, checks, result, components: reports };
}
