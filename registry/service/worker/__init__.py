"""The anchoring worker: credentials in the database -> sealed batch -> signed transaction ->
broadcast -> mined -> N confirmations -> credential files released (DESIGN.md, anchoring
pipeline).

Every step is committed to the database before the next begins, so a crash anywhere resumes on
the next pass:

* sealing claims queued credentials, computes salts, digests, the Merkle tree and every proof,
  and stores them with the batch root, all in one transaction (a crash loses nothing);
* the anchoring transaction is signed and *recorded* (raw bytes, hash, nonce, EIP-1559 fees)
  before it is broadcast; after a crash the same raw transaction is sent again, so a root is never
  anchored by two transactions, and a root the contract already knows (``RootAlreadyAnchored``)
  is adopted from the chain's own batch record;
* files are released only once the receipt has the required confirmations *and* the contract's
  batch record agrees; a receipt that disappears (reorg) moves the batch back to ``pending``;
* revocations go through the same pipeline (recorded before broadcast, re-sent after a crash,
  adopted when the chain already shows them, fee-bumped, sent again after a reorg), their
  transactions in the same ``anchor_tx`` table, so anchors and revocations share one key's nonces;
* corrections and renewals (``supersedeCredential``) go through that pipeline too, once the new
  credential's batch is confirmed; the new file is released when the chain records the
  supersession.

RPC failures back off exponentially; sealing (database only) keeps going while the chain is down.

A transaction still pending after ``rebroadcast_after`` seconds, or refused as underpriced, is
*replaced*: the same transaction (same nonce, data and gas) re-signed with both fees raised by at
least 12.5 %, within the network profile's cap, and recorded before it is sent. Receipts are
looked up for every member of the replacement set; whichever is mined is the anchor.

Several workers may share one database: each issuer key is driven by one worker at a time
(a PostgreSQL advisory lock, or a file lock next to a SQLite database), so two workers never sign
for the same batch or race on a key's nonce.

Modules, one per stage: :mod:`~registry.service.worker.anchoring` (sign, record, broadcast),
:mod:`~registry.service.worker.confirming` (poll, confirm, reorg, fee replacement),
:mod:`~registry.service.worker.revoking`, :mod:`~registry.service.worker.superseding`,
:mod:`~registry.service.worker.locks` (one worker per
issuer key), :mod:`~registry.service.worker.faults` (fault injection) and
:mod:`~registry.service.worker.runner` (the loop). Sealing is :mod:`registry.service.sealing`
(the API's "seal now" uses it too); keys and the chain client are :mod:`registry.service.keys`.
"""

from registry.service.worker.confirming import FEE_BUMP
from registry.service.worker.faults import FAULT_POINTS, WorkerCrash
from registry.service.worker.locks import AnchorLocks
from registry.service.worker.runner import Worker, run_until_idle
from registry.service.worker.stage import PassResult

__all__ = [
    "FAULT_POINTS",
    "FEE_BUMP",
    "AnchorLocks",
    "PassResult",
    "Worker",
    "WorkerCrash",
    "run_until_idle",
]
