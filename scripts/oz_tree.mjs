#!/usr/bin/env node
// Cross-check helper for registry/core/merkle.py against @openzeppelin/merkle-tree.
//
//   echo '["0x..32 bytes..", ...]' | node scripts/oz_tree.mjs build
//     -> {"root": "0x..", "proofs": [[..], ..]}   (proofs in input order)
//   echo '{"root": "0x..", "items": [{"digest": "0x..", "proof": [..]}, ..]}' \
//     | node scripts/oz_tree.mjs verify
//     -> {"results": [true, false, ..]}
//   echo '["0x..", ...]' | node scripts/oz_tree.mjs bench   -> {"seconds": build + all proofs}
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

const mode = process.argv[2] ?? 'build';
const input = JSON.parse(readFileSync(0, 'utf8'));

function build(digests) {
  const tree = StandardMerkleTree.of(digests.map(d => [d]), ['bytes32']);
  const proofs = digests.map((_, i) => tree.getProof(i));
  return { root: tree.root, proofs };
}

if (mode === 'build') {
  process.stdout.write(JSON.stringify(build(input)));
} else if (mode === 'verify') {
  const results = input.items.map(({ digest, proof }) => {
    try {
      return StandardMerkleTree.verify(input.root, ['bytes32'], [digest], proof);
    } catch {
      return false;
    }
  });
  process.stdout.write(JSON.stringify({ results }));
} else if (mode === 'bench') {
  const t0 = process.hrtime.bigint();
  const { root } = build(input);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ root, seconds }));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
