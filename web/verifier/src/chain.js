// Chain reads of one verification, as registry/chain/reads.py's ChainReader.snapshot does them:
// batched JSON-RPC (fetch POST to the one RPC URL the user gave, nothing else), ABI encoding and
// decoding by viem with the ABI of registry/artifacts/CredentialRegistry.json (built in at build
// time). Network faults become ChainUnavailable (INDETERMINATE), a reverting eth_call
// NotARegistry (anchor INVALID), exactly as registry/chain/rpc.py maps them.
import { decodeEventLog, decodeFunctionResult, encodeEventTopics, encodeFunctionData, getAddress } from "viem";
import abi from "virtual:abi";
import { issuerDid } from "./identity.js";

export class ChainUnavailable extends Error {
  constructor(url, reason) {
    super(`${url}: ${reason}`);
    this.reason = reason;
  }
}
export class NotARegistry extends Error {
  constructor(address, message) {
    super(`${address} is not a credential registry (a call reverted: ${message})`);
  }
}
export class ConfigError extends Error {}

const BATCH_LIMIT = 500;
/** Reads made at one head block of one RPC and registry (see snapshot). */
let headCache = null;
/** Registries whose `accreditor` call reverted: deployed before bodies had entries. */
const WITHOUT_ACCREDITOR_VIEW = new Set();
/** Registries whose `signingKey` call reverted: deployed before signing keys (format v2). */
const WITHOUT_SIGNING_KEYS = new Set();
export const HAS_ACCREDITOR = abi.some((x) => x.type === "function" && x.name === "accreditor");
export const HAS_SIGNING_KEYS = abi.some((x) => x.type === "function" && x.name === "signingKey");
/** Registries whose `supersession` call reverted: deployed before supersession. */
const WITHOUT_SUPERSESSIONS = new Set();
export const HAS_SUPERSESSIONS = abi.some((x) => x.type === "function" && x.name === "supersession");
/** The revocation reason a supersession writes (registry.chain.model.SUPERSEDED_REASON). */
export const SUPERSEDED_REASON = 2;

/** The record of a signing key no issuer registered (or of a registry without signing keys). */
export function unknownSigningKey(publicKey) {
  return { publicKey, issuerId: 0, since: 0, until: 0, compromisedSince: 0 };
}

function int(x) {
  return Number(x);
}

export class Rpc {
  constructor(url, timeoutMs = 10000) {
    this.url = url;
    this.timeoutMs = timeoutMs;
  }

  async post(payload) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let resp;
    try {
      resp = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(payload),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
    } catch (exc) {
      throw new ChainUnavailable(this.url, controller.signal.aborted ? "timed out" : `${exc.name}: ${exc.message}`);
    } finally {
      clearTimeout(timer);
    }
    if (resp.status === 429) throw new ChainUnavailable(this.url, "rate limited (HTTP 429)");
    if (resp.status >= 400) throw new ChainUnavailable(this.url, `HTTP ${resp.status}`);
    try {
      return await resp.json();
    } catch {
      throw new ChainUnavailable(this.url, "the answer is not JSON");
    }
  }

  /** [method, params][] -> results in order (registry/chain/rpc.py Rpc.batch). */
  async batch(requests) {
    if (!requests.length) return [];
    const payload = requests.map(([method, params], id) => ({ jsonrpc: "2.0", id, method, params }));
    const body = await this.post(payload);
    if (body !== null && typeof body === "object" && !Array.isArray(body)) {
      const message = (body.error && body.error.message) || "batch rejected";
      throw new ChainUnavailable(this.url, `batch request rejected: ${message}`);
    }
    if (!Array.isArray(body) || body.length !== payload.length) throw new ChainUnavailable(this.url, "malformed batch answer");
    const byId = new Map();
    for (const answer of body) {
      if (answer === null || typeof answer !== "object" || !("id" in answer)) {
        throw new ChainUnavailable(this.url, "malformed batch answer");
      }
      if ("error" in answer) {
        const err = answer.error;
        const msg = String(err !== null && typeof err === "object" && "message" in err ? err.message : JSON.stringify(err));
        const req = requests[answer.id];
        if (!req) throw new ChainUnavailable(this.url, "malformed batch answer");
        if (req[0] === "eth_call" && msg.toLowerCase().includes("revert")) throw new NotARegistry(req[1][0].to, msg);
        throw new ChainUnavailable(this.url, `${req[0]}: ${msg}`);
      }
      byId.set(answer.id, answer.result);
    }
    return payload.map((p) => {
      if (!byId.has(p.id)) throw new ChainUnavailable(this.url, "batch answer is missing results");
      return byId.get(p.id);
    });
  }
}

function hexInt(url, value) {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]+$/.test(value)) throw new ChainUnavailable(url, "malformed answer");
  return Number(BigInt(value));
}

/** Typed reads of one registry through one Rpc. */
export class ChainReader {
  constructor(rpc, registry) {
    this.rpc = rpc;
    this.registry = getAddress(registry);
  }

  call(name, args, block = "latest") {
    const data = encodeFunctionData({ abi, functionName: name, args });
    return ["eth_call", [{ to: this.registry, data }, block]];
  }

  decode(name, result) {
    try {
      const out = decodeFunctionResult({ abi, functionName: name, data: result });
      return Array.isArray(out) ? out : [out];
    } catch {
      throw new ChainUnavailable(this.rpc.url, `undecodable answer to ${name}()`);
    }
  }

  /** The raw answers of `calls` ([name, args] pairs), sent in JSON-RPC batches of BATCH_LIMIT. */
  async rawViews(calls, block = "latest") {
    const raw = [];
    for (let start = 0; start < calls.length; start += BATCH_LIMIT) {
      const chunk = calls.slice(start, start + BATCH_LIMIT);
      raw.push(...(await this.rpc.batch(chunk.map(([name, args]) => this.call(name, args, block)))));
    }
    return raw;
  }

  async views(calls, block = "latest") {
    const raw = await this.rawViews(calls, block);
    return calls.map(([name], i) => this.decode(name, raw[i]));
  }

  /**
   * views(calls) and the directory entries of accreditation bodies, in the same batches. A
   * registry deployed before bodies had entries has no `accreditor` view: the call reverts (or
   * answers no data), its bodies read as unnamed (shown by address), and this page stops asking it.
   */
  async viewsAndAccreditors(calls, bodies, block) {
    const unnamed = (a) => ({ address: a, name: "", uri: "", appointedAt: 0 });
    if (bodies.length && HAS_ACCREDITOR && !WITHOUT_ACCREDITOR_VIEW.has(this.registry)) {
      const all = [...calls, ...bodies.map((b) => ["accreditor", [b]])];
      let raw = null;
      try {
        raw = await this.rawViews(all, block);
      } catch (exc) {
        if (!(exc instanceof NotARegistry)) throw exc;
        WITHOUT_ACCREDITOR_VIEW.add(this.registry);
        raw = null;
      }
      if (raw !== null) {
        const n = calls.length;
        const results = calls.map(([name], k) => this.decode(name, raw[k]));
        const entries = new Map(
          bodies.map((b, k) => {
            const answer = raw[n + k];
            if (String(answer || "0x") === "0x") return [b, unnamed(b)];
            const r = this.decode("accreditor", answer);
            return [b, { address: b, name: String(r[0]), uri: String(r[1]), appointedAt: int(r[2]) }];
          }),
        );
        return [results, entries];
      }
    }
    return [await this.views(calls, block), new Map(bodies.map((b) => [b, unnamed(b)]))];
  }

  /**
   * views(calls) and the records of Ed25519 signing keys (0x-hex bytes32), in the same batches
   * (chain/reads.py `_views_and_signing_keys`). A registry deployed before signing keys has no
   * `signingKey` view: the call reverts (or answers no data), its keys read as unknown (issuer id
   * 0), and this page stops asking it (`calls` are then sent again on their own).
   */
  async viewsAndSigningKeys(calls, publicKeys, block) {
    if (publicKeys.length && HAS_SIGNING_KEYS && !WITHOUT_SIGNING_KEYS.has(this.registry)) {
      const all = [...calls, ...publicKeys.map((k) => ["signingKey", [k]])];
      let raw;
      try {
        raw = await this.rawViews(all, block);
      } catch (exc) {
        if (!(exc instanceof NotARegistry)) throw exc;
        const results = await this.views(calls, block); // raises again unless only signingKey reverted
        WITHOUT_SIGNING_KEYS.add(this.registry);
        return [results, new Map(publicKeys.map((k) => [k, unknownSigningKey(k)]))];
      }
      const n = calls.length;
      const results = calls.map(([name], k) => this.decode(name, raw[k]));
      const keys = new Map(
        publicKeys.map((key, k) => {
          const answer = raw[n + k];
          if (String(answer || "0x") === "0x") return [key, unknownSigningKey(key)];
          const [issuerId, since, until, compromisedSince] = this.decode("signingKey", answer).map(int);
          return [key, { publicKey: key, issuerId, since, until, compromisedSince }];
        }),
      );
      return [results, keys];
    }
    return [await this.views(calls, block), new Map(publicKeys.map((k) => [k, unknownSigningKey(k)]))];
  }

  /**
   * The supersession of each [issuerId, digest] pair (`${issuerId}|${digest}` -> record or null),
   * as chain/viewcalls.py `supersessions`: one batch of `supersession` views at `block`, then, for
   * the records found, `eth_getLogs` each pinned to the record's block for the successor's root and
   * id (only in the CredentialSuperseded event). A registry deployed before supersession has no such
   * view: the call reverts (or answers no data), every pair reads as null, and this page stops
   * asking it.
   */
  async supersessions(pairs, block) {
    const out = new Map(pairs.map(([i, d]) => [`${i}|${d}`, null]));
    if (!pairs.length || !HAS_SUPERSESSIONS || WITHOUT_SUPERSESSIONS.has(this.registry)) return out;
    let raw;
    try {
      raw = await this.rawViews(pairs.map(([i, d]) => ["supersession", [i, d]]), block);
    } catch (exc) {
      if (!(exc instanceof NotARegistry)) throw exc;
      WITHOUT_SUPERSESSIONS.add(this.registry);
      return out;
    }
    const found = [];
    pairs.forEach(([issuerId, digest], k) => {
      if (String(raw[k] || "0x") === "0x") return;
      const [newDigest, supersededAt, blockNumber, kind] = this.decode("supersession", raw[k]);
      if (int(supersededAt) === 0) return;
      found.push({
        issuerId,
        digest,
        newDigest: newDigest.toLowerCase(),
        supersededAt: int(supersededAt),
        block: int(blockNumber),
        kind: int(kind),
      });
    });
    const logs = [];
    for (let start = 0; start < found.length; start += BATCH_LIMIT) {
      logs.push(...(await this.rpc.batch(found.slice(start, start + BATCH_LIMIT).map((r) => this.supersededLogs(r)))));
    }
    found.forEach((r, k) => out.set(`${r.issuerId}|${r.digest}`, this.supersession(r, logs[k])));
    return out;
  }

  /** `eth_getLogs` of CredentialSuperseded(issuerId, digest) in the record's block alone. */
  supersededLogs(record) {
    const topics = encodeEventTopics({
      abi,
      eventName: "CredentialSuperseded",
      args: { issuerId: record.issuerId, digest: record.digest },
    });
    const at = "0x" + record.block.toString(16);
    return ["eth_getLogs", [{ address: this.registry, fromBlock: at, toBlock: at, topics }]];
  }

  /** A `supersession` record completed from its event in `logs` (ChainUnavailable when absent). */
  supersession(record, logs) {
    for (const log of Array.isArray(logs) ? logs : []) {
      let event;
      try {
        event = decodeEventLog({ abi, data: log.data, topics: log.topics });
      } catch {
        throw new ChainUnavailable(this.rpc.url, "malformed answer to eth_getLogs");
      }
      if (event.eventName === "CredentialSuperseded" && event.args.newDigest.toLowerCase() === record.newDigest) {
        return { ...record, newRoot: event.args.newRoot.toLowerCase(), newId: String(event.args.newId) };
      }
    }
    throw new ChainUnavailable(
      this.rpc.url,
      `no CredentialSuperseded event for credential ${record.digest} (issuer #${record.issuerId}) in block ${record.block}`,
    );
  }

  static batchInfo(root, r) {
    const [issuerId, keyId, anchoredAt, blockNumber, count, revokedAt, revocationReason] = r.map(int);
    if (anchoredAt === 0) return null;
    return { root, issuerId, keyId, anchoredAt, blockNumber, count, revokedAt, revocationReason };
  }

  static keyInfo(address, r) {
    const [issuerId, keyId, activatedAt, retiredAt, compromisedAt] = r.slice(0, 5).map(int);
    return { address, issuerId, keyId, activatedAt, retiredAt, compromisedAt };
  }

  static issuerInfo(issuerId, r) {
    return {
      issuerId,
      name: String(r[0]),
      uri: String(r[1]),
      admittedBy: getAddress(r[2]),
      admittedAt: int(r[3]),
      suspendedAt: int(r[4]),
      activeKey: getAddress(r[5]),
    };
  }

  async issuers(ids) {
    const unique = [...new Set(ids)];
    const raw = await this.views(unique.map((i) => ["issuer", [i]]));
    return new Map(unique.map((i, k) => [i, ChainReader.issuerInfo(i, raw[k])]));
  }

  async allIssuers() {
    const count = int((await this.views([["issuerCount", []]]))[0][0]);
    const ids = Array.from({ length: count }, (_, k) => k + 1);
    return [...(await this.issuers(ids)).values()];
  }

  /**
   * Everything verification needs, in at most three batched round trips; `signingKeys` (0x-hex
   * Ed25519 public keys) are read in round 2, each one present in `snap.signingKeys` (issuer id 0
   * when unknown or when the registry predates signing keys). `successors` are [root, old digest]
   * pairs of files claiming to replace a credential: `snap.supersessions` holds their records and
   * those of the revocations with reason SUPERSEDED_REASON (two more rounds, only when asked).
   */
  async snapshot(roots, pairs, identities, signingKeys = [], successors = []) {
    const claims = successors.map(([r, d]) => [r.toLowerCase(), d.toLowerCase()]);
    const rootKeys = [...new Set([...roots, ...claims.map(([r]) => r)].map((r) => r.toLowerCase()))];
    const answers = await this.rpc.batch([
      ["eth_chainId", []],
      ["eth_getCode", [this.registry, "latest"]],
      ["eth_blockNumber", []],
      ...rootKeys.map((k) => this.call("batch", [k])),
    ]);
    const snap = {
      chainId: hexInt(this.rpc.url, answers[0]),
      hasCode: !["0x", "0x0", ""].includes(String(answers[1])),
      head: hexInt(this.rpc.url, answers[2]),
      batches: new Map(),
      revocations: new Map(),
      keys: new Map(),
      issuers: new Map(),
      owners: new Map(),
      accreditors: new Map(),
      signingKeys: new Map(),
      supersessions: new Map(),
    };
    if (!snap.hasCode) return snap;
    rootKeys.forEach((k, i) => snap.batches.set(k, ChainReader.batchInfo(k, this.decode("batch", answers[3 + i]))));
    const known = [...snap.batches.values()].filter((b) => b !== null);
    const keyIds = [...new Set(known.map((b) => b.keyId))];
    const issuerIds = [...new Set(known.map((b) => b.issuerId))];
    const revs = [];
    const seenRevs = new Set();
    for (const [root, digest] of pairs) {
      const batch = snap.batches.get(root.toLowerCase());
      const key = `${batch ? batch.issuerId : ""}|${digest.toLowerCase()}`;
      if (batch && !seenRevs.has(key)) {
        seenRevs.add(key);
        revs.push([batch.issuerId, digest.toLowerCase()]);
      }
    }
    const owners = [...new Set(identities)];
    // Rounds 2 and 3 read at the head block of round 1, and what was read at that block is reused
    // by the next verification in this page while the head stays the same.
    const block = "0x" + snap.head.toString(16);
    const cacheKey = `${this.rpc.url}|${this.registry}|${snap.chainId}|${snap.head}`;
    if (headCache === null || headCache.key !== cacheKey) {
      headCache = {
        key: cacheKey,
        keyAddresses: new Map(),
        issuers: new Map(),
        revocations: new Map(),
        owners: new Map(),
        keys: new Map(),
        accreditors: new Map(),
        signingKeys: new Map(),
        supersessions: new Map(),
      };
    }
    const reads = headCache;
    const needKeyIds = keyIds.filter((i) => !reads.keyAddresses.has(i));
    const needIssuers = issuerIds.filter((i) => !reads.issuers.has(i));
    const needRevs = revs.filter(([i, d]) => !reads.revocations.has(`${i}|${d}`));
    const needOwners = owners.filter((u) => !reads.owners.has(u));
    const publicKeys = [...new Set(signingKeys.map((k) => k.toLowerCase()))];
    const needSigningKeys = publicKeys.filter((k) => !reads.signingKeys.has(k));
    const secondCalls = [
      ...needKeyIds.map((i) => ["keyAddress", [i]]),
      ...needIssuers.map((i) => ["issuer", [i]]),
      ...needRevs.map(([i, d]) => ["credentialRevocation", [i, d]]),
      ...needOwners.map((u) => ["issuerIdByUri", [u]]),
    ];
    const [second, signing] = await this.viewsAndSigningKeys(secondCalls, needSigningKeys, block);
    for (const [k, info] of signing) reads.signingKeys.set(k, info);
    let pos = 0;
    const addresses = needKeyIds.map(() => getAddress(second[pos++][0]));
    needIssuers.forEach((i) => reads.issuers.set(i, ChainReader.issuerInfo(i, second[pos++])));
    needRevs.forEach(([i, d]) => {
      const r = second[pos++].map(int);
      reads.revocations.set(`${i}|${d}`, r[0] !== 0 ? { revokedAt: r[0], reason: r[1], keyId: r[2] } : null);
    });
    needOwners.forEach((u) => reads.owners.set(u, int(second[pos++][0])));
    const newAddresses = [...new Set(addresses)].filter((a) => !reads.keys.has(a));
    const bodies = [...new Set(issuerIds.map((i) => reads.issuers.get(i).admittedBy))].filter(
      (a) => !reads.accreditors.has(a),
    );
    const [infos, entries] = await this.viewsAndAccreditors(
      newAddresses.map((a) => ["keyInfo", [a]]),
      bodies,
      block,
    );
    newAddresses.forEach((a, k) => reads.keys.set(a, ChainReader.keyInfo(a, infos[k])));
    for (const [a, entry] of entries) reads.accreditors.set(a, entry);
    for (const i of issuerIds) {
      const body = reads.issuers.get(i).admittedBy;
      snap.accreditors.set(body, reads.accreditors.get(body));
    }
    needKeyIds.forEach((i, k) => reads.keyAddresses.set(i, addresses[k]));
    for (const i of keyIds) snap.keys.set(i, reads.keys.get(reads.keyAddresses.get(i)));
    for (const i of issuerIds) snap.issuers.set(i, reads.issuers.get(i));
    for (const [i, d] of revs) snap.revocations.set(`${i}|${d}`, reads.revocations.get(`${i}|${d}`));
    for (const u of owners) snap.owners.set(u, reads.owners.get(u));
    for (const k of publicKeys) snap.signingKeys.set(k, reads.signingKeys.get(k));
    await this.fillSupersessions(snap, reads, claims, block);
    return snap;
  }

  /**
   * Rounds 4 and 5 of snapshot (chain/snapshot.py `_fill_supersessions`): the supersessions of the
   * revocations with reason SUPERSEDED_REASON and of the `claims` (root, old digest) whose root is
   * anchored, in the namespace of the issuer that anchored it. Nothing is sent when there are none,
   * or when this head already answered them all.
   */
  async fillSupersessions(snap, reads, claims, block) {
    const wanted = new Map();
    for (const [key, rev] of snap.revocations) {
      if (rev && rev.reason === SUPERSEDED_REASON) wanted.set(key, key.split("|"));
    }
    for (const [root, digest] of claims) {
      const batch = snap.batches.get(root);
      if (batch) wanted.set(`${batch.issuerId}|${digest}`, [batch.issuerId, digest]);
    }
    const missing = [...wanted].filter(([key]) => !reads.supersessions.has(key)).map(([, pair]) => pair);
    if (missing.length) {
      const pairs = missing.map(([i, d]) => [Number(i), d]);
      for (const [key, record] of await this.supersessions(pairs, block)) reads.supersessions.set(key, record);
    }
    for (const key of wanted.keys()) snap.supersessions.set(key, reads.supersessions.get(key));
  }
}

/** The directory of one registry, read only when the identity rule needs it. */
export class Directory {
  constructor(reader) {
    this.reader = reader;
    this.entries = new Map();
    this.all = null;
  }

  async entry(id) {
    if (!this.entries.has(id)) for (const [k, v] of await this.reader.issuers([id])) this.entries.set(k, v);
    return this.entries.get(id);
  }

  async claimants(identity) {
    if (this.all === null) this.all = await this.reader.allIssuers();
    return this.all.filter((e) => issuerDid(e.uri) === identity);
  }
}
