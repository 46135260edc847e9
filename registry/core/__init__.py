"""The pure core: Open Badges 3.0 model, RFC 8785 salted digests, OZ StandardMerkleTree, file format.

No I/O beyond reading the package's own schemas, no web3, no database, no process pools and no
module-level mutable state. Everything here is deterministic given its inputs (randomness is
injected as ``rng``).
"""
