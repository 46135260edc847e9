"""The issuer service.

* :mod:`~registry.service.store` (sqlmodel tables, engine, event log) and ``migrations`` (Alembic);
* :mod:`~registry.service.auth` (API keys, page sessions), :mod:`~registry.service.issuance`
  (issuers, achievements, queueing credentials, credential files),
  :mod:`~registry.service.revocations` (revocation requests);
* :mod:`~registry.service.sealing` (queued credentials -> batch), :mod:`~registry.service.keys`
  (the chain client and the issuers' anchoring keys), :mod:`~registry.service.worker` (the
  anchoring worker, one module per stage);
* :mod:`~registry.service.api` (FastAPI: REST API, verify API, pages), which never imports the
  worker: :mod:`~registry.service.runtime` wires API, worker, database and chain together.
"""
