"""Directory-change stage: the operators' changes of the directory on chain (appoint an
accreditation body, grant its bare role, admit, suspend or reinstate an issuer, assign it a new
anchoring key, declare an anchoring key compromised; and an issuer's rotation of its own
anchoring key) through the anchors' recorded
pipeline (DESIGN.md, anchoring pipeline):

pending -> signed (pre-flight, nonce from the same allocator as anchors; the raw transaction
recorded in ``anchor_tx`` before it is sent) -> submitted (the recorded bytes broadcast) -> done
(mined, the required confirmations, the block still canonical and the chain showing the change).

The operator's key never reaches the service: the CLI process that asked for the change holds
it and drives the stage (:mod:`registry.service.directory`); the service worker leaves these rows
alone. A crash anywhere, or the same command run again, resumes from the recorded state (the
same raw transaction is sent again, never a second one at another nonce). A change the chain
already shows is adopted (done, nothing sent); a pre-flight refusal fails the request with the
contract's error, nothing sent.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from sqlmodel import Session

from registry.chain.model import ACCREDITOR_ROLE, Call
from registry.errors import TransactionFailed
from registry.service.store import DirectoryChange, RevocationState, log_event, session_scope, utcnow
from registry.service.worker.stage import GWEI, PassResult, Request, RequestStage, TxOwner, WorkerContext

__all__ = ["ACTIONS", "DirectoryChanging"]

ACTIONS = {
    "admit_issuer": ("admitIssuer", "admit issuer"),
    "appoint_accreditor": ("onboardAccreditor", "appoint accreditation body"),
    "grant_accreditor": ("grantRole", "grant accreditor role"),
    "suspend_issuer": ("suspendIssuer", "suspend issuer"),
    "reinstate_issuer": ("reinstateIssuer", "reinstate issuer"),
    "assign_key": ("assignKey", "assign key"),
    "declare_key_compromised": ("declareKeyCompromised", "declare key compromised"),
    "rotate_key": ("rotateKey", "rotate key"),
}
"""The directory changes an operator can ask for: action -> (contract function, words in errors)."""


class DirectoryChanging(RequestStage):
    """Move an operator's directory changes; signs only those of ``account`` (the CLI's key)."""

    model = DirectoryChange
    noun = "directory_change"
    results = "directory_changes"
    done_fault = "directory_changed"

    def __init__(self, ctx: WorkerContext, account: LocalAccount | None) -> None:
        super().__init__(ctx)
        self.account = account

    # -- what the chain shows -------------------------------------------------------------------

    def shown(self, row: DirectoryChange) -> dict[str, Any] | None:
        """What the change made when the chain (latest block) already shows it, else None."""
        reads = self.client.reads
        args = json.loads(row.args)
        if row.action in ("suspend_issuer", "reinstate_issuer", "assign_key", "rotate_key"):
            issuer = reads.issuers([args["issuerId"]])[args["issuerId"]]
            if row.action in ("assign_key", "rotate_key"):
                shown = issuer.active_key.lower() == str(args["key"]).lower()
            else:
                shown = issuer.suspended == (row.action == "suspend_issuer")
            return {"issuerId": issuer.issuer_id} if shown else None
        if row.action == "declare_key_compromised":
            key = to_checksum_address(args["key"])
            since = reads.keys_by_address([key])[key].compromised_at
            return {"compromisedAt": since} if since and since <= int(args["since"]) else None
        if row.action == "admit_issuer":
            issuer_id = reads.issuer_id_by_uri(args["uri"])
            key = to_checksum_address(args["key"])
            if issuer_id and reads.keys_by_address([key])[key].issuer_id == issuer_id:
                return {"issuerId": issuer_id}
            return None
        account = to_checksum_address(args["account"])
        if not reads.has_role(ACCREDITOR_ROLE, account):
            return None
        if row.action == "grant_accreditor":
            return {"account": account}
        entry = reads.accreditors([account])[account]
        return {"account": account} if (entry.name, entry.uri) == (args["name"], args["uri"]) else None

    # -- pending -> signed ----------------------------------------------------------------------

    def sign(self, change_id: int, result: PassResult) -> bool:
        """pending -> signed: adopt a change the chain shows, else pre-flight, sign and record it
        (a refusal fails it with the contract's error); False without the operator's key."""
        with session_scope(self.engine) as session:
            row = session.get(DirectoryChange, change_id)
            assert row is not None
            account = self.account
            if account is None or account.address != row.sender:
                return False  # only the operator's own process signs it
            made = self.shown(row)
            if made is not None:
                note = "the chain already shows this change"
                self._adopt(session, row, note, lambda: self._done(session, row, None, made))
                return False
            function, words = ACTIONS[row.action]
            call = Call(function=function, data=bytes.fromhex(row.call_data[2:]), action=words)
            profile = self.settings.profile
            try:
                signed = self.client.sender.sign(
                    account,
                    call,
                    nonce=self._next_nonce(session, account.address),
                    max_fee_cap=int(profile.max_fee_gwei * GWEI),
                    priority=int(profile.priority_fee_gwei * GWEI),
                )
            except TransactionFailed as exc:
                self._fail(session, row, str(exc))
                result.errors.append(str(exc))
                return False
            self._record_signed(session, row, signed)
        return self._signed(change_id, result)

    # -- hooks of the shared pipeline -----------------------------------------------------------

    def _account_for(self, session: Session, owner: TxOwner) -> LocalAccount:
        assert self.account is not None and self.account.address == owner.row.sender  # type: ignore[union-attr]
        return self.account

    def _give_up(self, session: Session, row: Request, result: PassResult) -> None:
        assert isinstance(row, DirectoryChange)
        self._fail(session, row, row.last_error or "reverted")

    def _confirm(self, session: Session, row: Request, tx_hash: str, result: PassResult) -> bool:
        assert isinstance(row, DirectoryChange)
        made = self.shown(row)
        if made is None:
            return False
        self._done(session, row, tx_hash, made)
        return True

    # -- done / failed --------------------------------------------------------------------------

    def _done(self, session: Session, row: DirectoryChange, tx_hash: str | None, made: dict[str, Any]) -> None:
        """Done, with what the chain shows it made (read once, by the caller)."""
        row.state = RevocationState.DONE
        row.tx_hash = tx_hash
        row.outcome = json.dumps(made, sort_keys=True)
        row.done_at = utcnow()
        session.add(row)
        log_event(session, "directory_change.done", subject=f"directory_change:{row.id}", tx=tx_hash, outcome=made)

    def _fail(self, session: Session, row: DirectoryChange, why: str) -> None:
        row.state = RevocationState.FAILED
        row.last_error = why
        session.add(row)
        log_event(session, "directory_change.failed", subject=f"directory_change:{row.id}", error=why)
