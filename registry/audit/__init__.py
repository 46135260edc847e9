"""The auditor: replay the on-chain history, check it, reconcile it with an issuer's records."""
