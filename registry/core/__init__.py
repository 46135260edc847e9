"""The pure core: Open Badges 3.0 model, RFC 8785 salted digests, OZ StandardMerkleTree, file
formats, W3C Data Integrity signatures (eddsa-rdfc-2022).

No I/O beyond reading the package's own schemas, no web3, no database, no process pools and no
module-level mutable state (memo caches of pure functions aside). Everything here is
deterministic given its inputs (randomness is injected as ``rng``).
"""
