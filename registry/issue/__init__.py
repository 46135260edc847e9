"""Issuing: batch preparation (digests, tree, proofs; parallel fan-out) and direct issuance."""
