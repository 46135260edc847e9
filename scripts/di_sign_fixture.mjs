#!/usr/bin/env node
// Reference signer: signs an unsigned credential with Digital Bazaar's own issuer code
// (@digitalbazaar/vc `issue`, DataIntegrityProof + eddsa-rdfc-2022, an Ed25519 Multikey from a
// fixed 32-byte seed), offline. Ed25519 is deterministic, so for the same seed, `created`,
// verificationMethod and document, registry/core/signing.py must produce the same proofValue:
// this is the vector the Python signer is compared against (docs/format.md v2 §4).
//
//   node scripts/di_sign_fixture.mjs --seed HEX64 --did did:web:uni.example \
//        --created 2025-03-01T12:00:00Z UNSIGNED.json            -> the signed credential
//   ... --vector UNSIGNED.json                                    -> a full reference vector:
//        {seed_hex, did, public_key_multibase, verification_method, did_document, created,
//         unsigned_credential, signed_credential, canonical_document, canonical_proof_config,
//         document_hash, proof_config_hash, hash_data}   (N-Quads from RDFC-1.0, hashes SHA-256 hex)
//
// UNSIGNED.json may also be a reference vector: its `unsigned_credential` is re-signed, so
// `--vector tests/assets/golden-v2/di-reference.json` regenerates that file (must be a no-op).
// The verificationMethod is `<did>#<publicKeyMultibase>` and the proof has no @context of its
// own, exactly as format v2 writes it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import jsonld from 'jsonld';
import {
  DataIntegrityProof, DID_V1, MULTIKEY_V1, cryptosuite, offlineLoader,
} from './di_common.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    did: { type: 'string' },
    created: { type: 'string' },
    vector: { type: 'boolean', default: false },
  },
});
if (positionals.length !== 1) {
  console.error('usage: node scripts/di_sign_fixture.mjs [--seed HEX64] [--did DID] [--created ISO] [--vector] UNSIGNED.json');
  process.exit(2);
}

const input = JSON.parse(readFileSync(positionals[0], 'utf8'));
const fromVector = input.unsigned_credential !== undefined;
const unsigned = fromVector ? input.unsigned_credential : input;
const seedHex = values.seed ?? input.seed_hex;
const created = values.created ?? input.created;
const did = values.did ?? input.did ?? unsigned.issuer?.id ?? unsigned.issuer;
if (!/^[0-9a-f]{64}$/.test(seedHex ?? '')) throw new Error('--seed must be 64 lower-case hex digits');
if (!created) throw new Error('--created is required (a fixed date keeps the vector deterministic)');
if ('proof' in unsigned) throw new Error('the credential is already signed (has "proof")');

const sha256 = s => createHash('sha256').update(s, 'utf8').digest('hex');

const key = await Ed25519Multikey.generate({ seed: Buffer.from(seedHex, 'hex'), controller: did });
const didDocument = {
  '@context': [DID_V1, MULTIKEY_V1],
  id: did,
  verificationMethod: [{ id: key.id, type: 'Multikey', controller: did, publicKeyMultibase: key.publicKeyMultibase }],
  assertionMethod: [key.id],
};
const documentLoader = offlineLoader(new Map([[did, didDocument]]));
const suite = new DataIntegrityProof({ signer: key.signer(), date: created, cryptosuite });
const signed = await vc.issue({ credential: structuredClone(unsigned), suite, documentLoader });

if (!values.vector) {
  process.stdout.write(JSON.stringify(signed, null, 2) + '\n');
  process.exit(0);
}

// The two canonical forms the signature covers, computed the way the suite computes them ...
const proof = signed.proof;
const canonicalDocument = await cryptosuite.canonize(unsigned, { documentLoader, base: null, safe: true });
const canonicalProofConfig = await suite.canonizeProof(proof, { document: unsigned, documentLoader });
// ... and cross-checked against plain jsonld.canonize (RDFC-1.0), as the spec states them.
const proofConfig = { '@context': unsigned['@context'], ...proof };
delete proofConfig.proofValue;
for (const [doc, expected] of [[unsigned, canonicalDocument], [proofConfig, canonicalProofConfig]]) {
  const plain = await jsonld.canonize(doc, {
    algorithm: 'RDFC-1.0', format: 'application/n-quads', documentLoader, safe: true,
  });
  if (plain !== expected) throw new Error('jsonld.canonize disagrees with the cryptosuite canonize');
}
const verified = await vc.verifyCredential({ credential: signed, suite: new DataIntegrityProof({ cryptosuite }), documentLoader });
if (!verified.verified) throw new Error(`the freshly signed credential does not verify: ${JSON.stringify(verified.error)}`);

const vector = {
  description: 'Reference vector for eddsa-rdfc-2022 (docs/format.md v2 §4), produced by '
    + "Digital Bazaar's @digitalbazaar/vc issue() via scripts/di_sign_fixture.mjs --vector. "
    + 'hash_data = proof_config_hash || document_hash; proofValue = "z" + base58btc(Ed25519(seed, hash_data)).',
  seed_hex: seedHex,
  did,
  public_key_multibase: key.publicKeyMultibase,
  verification_method: key.id,
  did_document: didDocument,
  created,
  unsigned_credential: unsigned,
  signed_credential: signed,
  canonical_document: canonicalDocument,
  canonical_proof_config: canonicalProofConfig,
  document_hash: sha256(canonicalDocument),
  proof_config_hash: sha256(canonicalProofConfig),
  hash_data: sha256(canonicalProofConfig) + sha256(canonicalDocument),
};
process.stdout.write(JSON.stringify(vector, null, 2) + '\n');
