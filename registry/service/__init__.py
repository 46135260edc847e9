"""The issuer service: store and migrations, issuance, auth, the anchoring worker, FastAPI app."""
