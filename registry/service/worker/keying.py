"""Key-change stage of the worker: the issuer's Ed25519 signing key (credential format v2, derived
from its anchoring key) is registered on chain (``setSigningKey``) through the revocations'
recorded-transaction pipeline (DESIGN.md, anchoring pipeline):

pending -> signed (pre-flight, nonce from the same allocator as anchors; the raw transaction
recorded in ``anchor_tx`` before it is sent) -> submitted (the recorded bytes broadcast) -> done
(mined, the required confirmations, the block still canonical and the chain recording this key
as the issuer's current one).

:class:`~registry.service.worker.anchoring.Anchoring` queues a key change when a batch of an
issuer whose chain-recorded key differs is about to be anchored, and holds the anchor back until
it is done: the batch's v2 files are signed with that key, and the anchor's nonce comes after
the key change's. A crash anywhere resumes from the recorded state (the same raw transaction is
sent again). A pre-flight or mined transaction refused as ``SigningKeyAlreadyRegistered`` is
adopted only when the chain shows this very key as the issuer's current one; otherwise (the key
was registered before and rotated away: keys are never reused) the request fails with the reason
and the issuer's batches wait with it, nothing lost.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.chain import calls
from registry.chain.abi import Revert
from registry.errors import TransactionFailed
from registry.issue.signing import signing_public_key
from registry.service.store import KeyChange, RevocationState, log_event, session_scope, utcnow
from registry.service.worker.stage import GWEI, PassResult, Request, RequestStage, WorkerContext

__all__ = ["KeyChanging", "public_key_hex"]


def public_key_hex(public_key: bytes) -> str:
    """The column form of a raw Ed25519 public key: 0x-prefixed lower-case hex."""
    return "0x" + public_key.hex()


class KeyChanging(RequestStage):
    """Register issuers' signing keys on chain before the anchors whose files they sign."""

    model = KeyChange
    noun = "key_change"
    results = "key_changes"
    done_fault = "key_changed"

    def __init__(self, ctx: WorkerContext) -> None:
        super().__init__(ctx)
        self._of_record: set[tuple[int, bytes]] = set()
        """(issuer, signing key) pairs seen current on chain: later batches ask no chain read."""

    # -- what the anchoring stage asks ----------------------------------------------------------

    def key_ready(self, session: Session, issuer_id: int, result: PassResult) -> bool:
        """Whether the chain records the signing key of ``issuer_id``'s anchoring key as current,
        so its batch may be anchored now. When not, a key change is queued (in the caller's
        transaction) unless one is open; a failed one for the same key is reported, not retried
        behind the issuer's back."""
        account = self._signer(session, issuer_id)
        public = signing_public_key(account)
        if (issuer_id, public) in self._of_record:
            return True
        wanted = public_key_hex(public)
        rows = list(
            session.exec(
                select(KeyChange)
                .where(KeyChange.issuer_id == issuer_id)
                .where(KeyChange.public_key == wanted)
                .order_by(col(KeyChange.id))
            )
        )
        if any(r.state in RevocationState.open_states() for r in rows):
            return False
        if self._key_current(session, issuer_id, public):
            self._of_record.add((issuer_id, public))
            return True
        failed = [r for r in rows if r.state == RevocationState.FAILED]
        if failed:
            result.errors.append(
                f"issuer {issuer_id}: signing key {wanted} could not be registered on chain "
                f"(key_change:{failed[-1].id}: {failed[-1].last_error}); its batches wait"
            )
            return False
        row = KeyChange(issuer_id=issuer_id, public_key=wanted)
        session.add(row)
        session.flush()
        log_event(session, "key_change.queued", issuer_id=issuer_id, subject=f"key_change:{row.id}", key=wanted)
        return False

    def _key_current(self, session: Session, issuer_id: int, public: bytes) -> bool:
        """The chain (latest block) records ``public`` as the current signing key of the issuer."""
        ours = self._issuer_on_chain(session, issuer_id)
        return bool(ours) and self.client.reads.current_signing_key(ours) == public

    # -- pending -> signed ----------------------------------------------------------------------

    def sign(self, change_id: int, result: PassResult) -> bool:
        """pending -> signed: pre-flight, sign and record ``setSigningKey`` (or adopt it, or fail it)."""
        client = self.client
        with session_scope(self.engine) as session:
            row = session.get(KeyChange, change_id)
            assert row is not None
            public = bytes.fromhex(row.public_key[2:])
            account = self._signer(session, row.issuer_id)
            if signing_public_key(account) != public:
                # The issuer's anchoring key changed since: this key would sign nothing it anchors.
                why = f"the issuer's anchoring key is now {account.address}; its signing key is another one"
                self._fail(session, row, why)
                result.errors.append(f"key_change:{row.id}: {why}")
                return False
            nonce = self._next_nonce(session, account.address)
            profile = self.settings.profile
            try:
                signed = client.sender.sign(
                    account,
                    calls.set_signing_key(public),
                    nonce=nonce,
                    max_fee_cap=int(profile.max_fee_gwei * GWEI),
                    priority=int(profile.priority_fee_gwei * GWEI),
                )
            except TransactionFailed as exc:
                if exc.revert is Revert.SIGNING_KEY_ALREADY_REGISTERED and self._key_current(
                    session, row.issuer_id, public
                ):
                    note = "already current on chain; adopted"
                    self._adopt(session, row, note, lambda: self._done(session, row, None))
                    return False
                self._fail(session, row, str(exc))
                result.errors.append(str(exc))
                return False
            self._record_signed(session, row, signed)
        return self._signed(change_id, result)

    # -- hooks of the shared pipeline -----------------------------------------------------------

    def _give_up(self, session: Session, row: Request, result: PassResult) -> None:
        assert isinstance(row, KeyChange)
        self._fail(session, row, row.last_error or "reverted")

    def _confirm(self, session: Session, row: Request, tx_hash: str, result: PassResult) -> bool:
        assert isinstance(row, KeyChange)
        if not self._key_current(session, row.issuer_id, bytes.fromhex(row.public_key[2:])):
            return False
        self._done(session, row, tx_hash)
        return True

    # -- done / failed --------------------------------------------------------------------------

    def _done(self, session: Session, row: KeyChange, tx_hash: str | None) -> None:
        row.state = RevocationState.DONE
        row.tx_hash = tx_hash
        row.done_at = utcnow()
        session.add(row)
        log_event(
            session,
            "key_change.done",
            issuer_id=row.issuer_id,
            subject=f"key_change:{row.id}",
            tx=tx_hash,
            key=row.public_key,
        )

    def _fail(self, session: Session, row: KeyChange, why: str) -> None:
        row.state = RevocationState.FAILED
        row.last_error = why
        session.add(row)
        log_event(session, "key_change.failed", issuer_id=row.issuer_id, subject=f"key_change:{row.id}", error=why)
