#!/usr/bin/env node
// Independent check of format v2 signatures with Digital Bazaar's verifier: every file is given
// to @digitalbazaar/vc `verifyCredential` with DataIntegrityProof + eddsa-rdfc-2022, exactly as a
// standard VC 2.0 / Open Badges 3.0 verifier would, but OFFLINE: contexts come from the pinned
// npm packages and DID documents only from --did-doc files (scripts/di_common.mjs); any other URL
// is an error naming it. Nothing is removed from the files: the CredentialRegistryAnchorProof
// stays in the proof set and Digital Bazaar's proof-set logic decides what to do with it (it
// skips it: the anchor proof has no `proofPurpose`, so it never matches the assertionMethod
// purpose; docs/format.md v2 §4 "verifiers that do not know it skip it").
//
//   node scripts/di_verify.mjs --did-doc did.json [--did-doc ...] [--json] [--now ISO]
//        [--skip-unsigned] FILE_OR_DIR...
//
// A directory is searched recursively for *.json, skipping did.json files and JSON that is not
// a verifiable credential (reported as SKIPPED). --skip-unsigned also skips files without a
// DataIntegrityProof (ad-hoc redacted files, anchor proof only) instead of failing them.
// Prints `VERIFIED path` or `FAILED path: reason` per file (or one JSON report with --json);
// exits 0 only if no file failed and at least one verified, 1 otherwise, 2 on a usage error.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as vc from '@digitalbazaar/vc';
import { offlineLoader, readDidDocuments, verifyingSuite } from './di_common.mjs';

function usage(message) {
  if (message) console.error(`di_verify: ${message}`);
  console.error('usage: node scripts/di_verify.mjs --did-doc DID.json [--did-doc ...] [--json] [--now ISO] [--skip-unsigned] FILE_OR_DIR...');
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      'did-doc': { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
      now: { type: 'string' },
      'skip-unsigned': { type: 'boolean', default: false },
    },
  });
} catch (error) {
  usage(error.message);
}
const { values, positionals } = parsed;
if (positionals.length === 0) usage('no files given');
if (values.now !== undefined && Number.isNaN(Date.parse(values.now))) usage(`--now "${values.now}" is not a date`);

/** [{path, explicit}] for the arguments, directories expanded (sorted, recursive). */
function collect(paths) {
  const out = [];
  const walk = dir => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.json') && name !== 'did.json') out.push({ path, explicit: false });
    }
  };
  for (const path of paths) {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) walk(path);
    else out.push({ path, explicit: true });
  }
  return out;
}

/** Every error message in a verifyCredential result, most specific first, deduplicated. */
function reasons(result) {
  const messages = [];
  const add = error => {
    if (!error) return;
    if (Array.isArray(error)) return error.forEach(add);
    // jsonld-signatures' VerificationError only wraps the real errors: report those.
    if (error.name === 'VerificationError' && error.errors?.length) return add(error.errors);
    let message = error.message ?? String(error);
    const event = error.details?.event;
    if (event?.code) message += ` (${event.code}: ${JSON.stringify(event.details ?? {})})`;
    if (!messages.includes(message)) messages.push(message);
    add(error.errors);
    add(error.cause);
  };
  for (const r of result.results ?? []) {
    add(r.error);
    add(r.purposeResult?.error);
  }
  add(result.error);
  return messages.length ? messages.join('; ') : 'not verified (no reason given)';
}

const isCredential = doc => doc && typeof doc === 'object' && !Array.isArray(doc)
  && [].concat(doc.type ?? []).includes('VerifiableCredential');
const hasDataIntegrityProof = doc => [].concat(doc.proof ?? [])
  .some(p => p?.type === 'DataIntegrityProof');

let didDocs;
try {
  didDocs = readDidDocuments(values['did-doc']);
} catch (error) {
  usage(error.message);
}

const report = [];
for (const { path, explicit } of collect(positionals)) {
  let credential;
  try {
    credential = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    report.push({ path, status: 'FAILED', reason: `cannot read JSON: ${error.message}` });
    continue;
  }
  if (!explicit && !isCredential(credential)) {
    report.push({ path, status: 'SKIPPED', reason: 'not a verifiable credential' });
    continue;
  }
  if (values['skip-unsigned'] && isCredential(credential) && !hasDataIntegrityProof(credential)) {
    report.push({ path, status: 'SKIPPED', reason: 'no DataIntegrityProof (unsigned, e.g. redacted ad hoc)' });
    continue;
  }
  const log = { loaded: [], refused: [] };
  const result = await vc.verifyCredential({
    credential,
    suite: verifyingSuite(),
    documentLoader: offlineLoader(didDocs, log),
    ...(values.now ? { now: new Date(values.now) } : {}),
  });
  // Every proof of the file and what Digital Bazaar did with it ("skipped": it matched no
  // accepted purpose and suite, so it was never evaluated; that is how unknown proofs fare).
  const evaluated = result.results ?? [];
  const proofs = [].concat(credential.proof ?? []).map(p => {
    const r = evaluated.find(e => e.proof?.proofValue !== undefined && e.proof.proofValue === p?.proofValue
      && e.proof.type === p?.type);
    return { type: p?.type, cryptosuite: p?.cryptosuite, result: r ? (r.verified ? 'verified' : 'failed') : 'skipped' };
  });
  // A refused URL is the cause; jsonld's generic "Dereferencing a URL ..." wrapper adds nothing.
  const refused = [...new Set(log.refused)].map(url => `offline loader refused "${url}"`);
  const reason = refused.length
    ? [...refused, ...reasons(result).split('; ').filter(m => !m.startsWith('Dereferencing a URL'))].join('; ')
    : reasons(result);
  report.push(result.verified
    ? { path, status: 'VERIFIED', proofs, loaded: log.loaded }
    : { path, status: 'FAILED', reason, proofs, loaded: log.loaded, refused: log.refused });
}

const ok = report.every(r => r.status !== 'FAILED') && report.some(r => r.status === 'VERIFIED');
const text = values.json
  ? JSON.stringify({ ok, files: report }, null, 2) + '\n'
  : report.map(r => (r.status === 'VERIFIED' ? `VERIFIED ${r.path}` : `${r.status} ${r.path}: ${r.reason}`) + '\n').join('');
// Exit once the text is written: process.exit() drops what a pipe has not taken yet (a slow
// reader saw about half of 2,000 lines).
process.stdout.write(text, () => process.exit(ok ? 0 : 1));
