"""Trustless verification of credential files against the chain (named checks, verdicts)."""
