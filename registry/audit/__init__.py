"""The auditor: replay the on-chain history, check it, reconcile it with an issuer's records.

``report`` (the report model, format ``credreg-audit-v1``), ``replay`` (events to a
:class:`~registry.audit.state.History`, pure; ``state`` holds the events and the history),
``checks`` (chain-only checks over a history), ``lineage`` (supersessions: replayed, joined
into lines and checked), ``records`` (the
:class:`~registry.audit.records.IssuerRecords` port), ``reconcile`` (the chain against those
records), ``codecheck`` (deployed bytecode against ``contracts/``), ``sampling`` (credential files
through the verifier), ``cache`` (the auditor's event database), ``auditor`` (the orchestrator)
and ``render`` (table, JSON, CSV and HTML, templates in ``templates/``).
"""
