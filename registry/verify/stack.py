"""Stack verification: a learner's credentials checked as a whole against an anchored pathway.

Every component gets all the usual checks (one batched :meth:`Verifier.verify_many`); then three
checks of the stack itself (``docs/pathways.md``):

* ``pathway``: the definition's digest (:func:`registry.core.pathway.pathway_digest`) is anchored
  in the components' registry, as a batch of its own, by the pathway's owner (its directory DID),
  with a key that was not compromised at that time, in a registry the verifier trusts;
* ``learner``: every component names the one learner whose e-mail the holder discloses once
  (its salted ``identityHash`` is recomputed; nothing personal is added to the files);
* ``rule``: the pathway's requirements, evaluated over the VALID components.

Verdict: INVALID when a component is INVALID, a component names another learner, the stack
repeats a credential, or the pathway is not anchored by its owner; INDETERMINATE when any of
that cannot be told (a component or the chain unreadable, no learner given, an untrusted
registry); INCOMPLETE when everything checks and the rule is not met yet; VALID otherwise.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from registry.core import credfile
from registry.core.credential import recipient_matches
from registry.core.pathway import Pathway, pathway_digest
from registry.core.stacking import Component, component_digest_multibase, component_of, evaluate
from registry.errors import InvalidInput, RegistryError
from registry.locales.reasons import Reason, phrase
from registry.verify.report import Check, CheckStatus, Report, Verdict
from registry.verify.verifier import Verifier

__all__ = ["STACK_CHECKS", "StackReport", "StackVerdict", "verify_stack", "verify_umbrella"]

STACK_CHECKS = ("pathway", "learner", "rule")


class StackVerdict(enum.StrEnum):
    VALID = "VALID"
    INCOMPLETE = "INCOMPLETE"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"

    @property
    def exit_code(self) -> int:
        """``registry verify --pathway``: 0 / 1 / 2 as for files, 6 for a stack not complete yet."""
        return {"VALID": 0, "INVALID": 1, "INDETERMINATE": 2, "INCOMPLETE": 6}[self.value]


class StackReport(BaseModel):
    """What ``registry verify --pathway`` prints (``--json``) and ``POST /v1/verify/stack`` returns."""

    verdict: StackVerdict
    summary: str
    pathway: dict[str, Any]
    """id, version, name, owner, digest, and where it is anchored when it is."""
    checks: list[Check]
    """The stack's own checks: pathway, learner, rule."""
    result: dict[str, Any] | None = None
    """Per requirement: satisfied by which files, what is missing, credits (``PathwayResult``)."""
    components: list[Report] = Field(default_factory=list)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)


def _check(name: str, status: CheckStatus, reason: str, **details: Any) -> Check:
    return Check(name=name, status=status, reason=reason, details=details)


def _pathway_check(verifier: Verifier, pathway: Pathway, digest: str, reports: Sequence[Report]) -> Check:
    """Is the pathway's digest anchored by its owner in the components' (trusted) registry?"""
    places = sorted(
        {(int(r.credential["chainId"]), str(r.credential["registry"])) for r in reports if r.credential.get("registry")}
    )
    if not places:
        return _check("pathway", CheckStatus.INDETERMINATE, Reason("no readable component names a registry to look in"))
    if len(places) > 1:
        where = ", ".join(f"{r} on chain {c}" for c, r in places)
        return _check(
            "pathway",
            CheckStatus.INDETERMINATE,
            Reason("the components come from several registries ({where}): a stack is checked in one", where=where),
        )
    chain_id, registry = places[0]
    if verifier.policy.offline:
        return _check(
            "pathway", CheckStatus.INDETERMINATE, Reason("not checked: offline mode, the chain was not consulted")
        )
    trust = verifier.policy.trust_source(chain_id, registry)
    try:
        snap = verifier.chain_snapshot(chain_id, registry, [digest])
    except RegistryError as exc:
        return _check(
            "pathway", CheckStatus.INDETERMINATE, Reason("could not read the chain: {problem}", problem=str(exc))
        )
    batch = snap.batches.get(digest.lower()) or snap.batches.get(digest)
    if batch is None:
        return _check(
            "pathway",
            CheckStatus.FAIL,
            Reason(
                "pathway {id} version {version} (digest {digest}) is not anchored in registry {registry} on chain "
                "{chain_id}: its rule is nobody's word (`registry pathway publish` anchors it)",
                id=pathway.id,
                version=pathway.version,
                digest=digest,
                registry=registry,
                chain_id=chain_id,
            ),
        )
    issuer = snap.issuers.get(batch.issuer_id)
    key = snap.keys.get(batch.key_id)
    details = {"chainId": chain_id, "registry": registry, "block": batch.block_number, "anchoredAt": batch.anchored_at}
    if issuer is None or issuer.did != pathway.owner:
        named = (
            f"{issuer.name} ({issuer.uri})"
            if issuer is not None
            else Reason("issuer #{issuer_id}", issuer_id=batch.issuer_id)
        )
        return _check(
            "pathway",
            CheckStatus.FAIL,
            Reason(
                "the pathway's digest was anchored by {named}, not by its owner {owner}",
                named=named,
                owner=pathway.owner,
            ),
            **details,
        )
    if key is not None and key.compromised_for(batch.anchored_at):
        return _check(
            "pathway",
            CheckStatus.FAIL,
            Reason(
                "the pathway was anchored with key {key}, declared compromised from before that time", key=key.address
            ),
            **details,
        )
    if trust is None:
        return _check(
            "pathway",
            CheckStatus.INDETERMINATE,
            Reason(
                "registry {registry} on chain {chain_id} is not one you trust "
                "(`registry trust add {chain_id} {registry}`)",
                registry=registry,
                chain_id=chain_id,
            ),
            **details,
        )
    return _check(
        "pathway",
        CheckStatus.PASS,
        Reason(
            "pathway {id} version {version} anchored by its owner {name} ({owner}) in block {block}",
            id=pathway.id,
            version=pathway.version,
            name=issuer.name,
            owner=pathway.owner,
            block=batch.block_number,
        ),
        **details,
    )


def verify_stack(
    verifier: Verifier,
    pathway: Pathway,
    files: Sequence[tuple[str, bytes | str | dict[str, Any]]],
    *,
    learner: str | None,
) -> StackReport:
    """Verify ``files`` (``(name, credential JSON)``) as one learner's stack toward ``pathway``.

    ``learner`` is the e-mail address the holder discloses once; None leaves the ``learner``
    check INDETERMINATE (the stack cannot be bound to one person). Never raises for bad files:
    they are INVALID components; a stack that repeats a credential is INVALID."""
    digest = "0x" + pathway_digest(pathway).hex()
    info: dict[str, Any] = {
        "id": pathway.id,
        "version": pathway.version,
        "name": pathway.name,
        "owner": pathway.owner,
        "digest": digest,
    }
    if not files:
        raise InvalidInput("files", "a stack needs at least one credential file")
    reports = verifier.verify_many(files)
    parsed: dict[str, dict[str, Any]] = {}
    for (name, data), report in zip(files, reports, strict=True):
        if report.verdict is not Verdict.INVALID:
            with contextlib.suppress(RegistryError):  # the report already says why
                parsed[name] = credfile.parse_credential_file(data).credential
    checks = [_pathway_check(verifier, pathway, digest, reports)]
    info.update({k: v for k, v in checks[0].details.items() if k in ("chainId", "registry", "block", "anchoredAt")})

    if learner is None:
        checks.append(
            _check(
                "learner",
                CheckStatus.INDETERMINATE,
                Reason(
                    "no learner given: disclose the learner's e-mail once (--learner) to bind the files to one person"
                ),
            )
        )
    else:
        others = [name for name, doc in parsed.items() if not recipient_matches(doc, learner)]
        if others:
            checks.append(
                _check(
                    "learner",
                    CheckStatus.FAIL,
                    Reason("{files} name(s) another learner: a stack is one person's", files=", ".join(others)),
                    files=others,
                )
            )
        else:
            checks.append(
                _check(
                    "learner",
                    CheckStatus.PASS,
                    Reason("every readable component names the learner {learner}", learner=learner),
                )
            )

    components: list[Component] = []
    result = None
    try:
        # A VALID file can still state what no pathway counts (negative credits): the rule fails.
        for (name, _), report in zip(files, reports, strict=True):
            if report.verdict is Verdict.VALID and name in parsed:
                components.append(component_of(name, parsed[name], str(report.credential["digest"])))
        evaluation = evaluate(pathway, components)
    except InvalidInput as exc:
        checks.append(_check("rule", CheckStatus.FAIL, str(exc)))
    else:
        result = evaluation.to_json()
        missing = list(evaluation.missing)
        if evaluation.complete:
            checks.append(
                _check(
                    "rule",
                    CheckStatus.PASS,
                    Reason(
                        "the requirements of {name} are met ({credits:g} credits)",
                        name=pathway.name,
                        credits=evaluation.total_credits,
                    ),
                )
            )
        else:
            checks.append(
                _check(
                    "rule",
                    CheckStatus.INDETERMINATE,
                    Reason(
                        "not complete yet: {missing}",
                        missing="; ".join(missing[:5]) or phrase("the qualification's credits are not reached"),
                    ),
                    missing=missing,
                )
            )
    verdict, summary = _verdict(reports, checks)
    return StackReport(
        verdict=verdict, summary=summary, pathway=info, checks=checks, result=result, components=list(reports)
    )


def _verdict(reports: Sequence[Report], checks: Sequence[Check]) -> tuple[StackVerdict, str]:
    """INVALID > INDETERMINATE (a component, or any stack check but the rule) > INCOMPLETE > VALID."""
    rule = next(c for c in checks if c.name == "rule")
    bad = [r for r in reports if r.verdict is Verdict.INVALID]
    open_ = [r for r in reports if r.verdict is Verdict.INDETERMINATE]
    failed = [c for c in checks if c.status is CheckStatus.FAIL]
    undecided = [c for c in checks if c.name != "rule" and c.status is CheckStatus.INDETERMINATE]
    if bad or failed:
        return StackVerdict.INVALID, "; ".join(
            [f"{r.source} is INVALID ({r.summary})" for r in bad] + [f"{c.name}: {c.reason}" for c in failed]
        )
    if open_ or undecided:
        return StackVerdict.INDETERMINATE, "; ".join(
            [f"{r.source} is INDETERMINATE ({r.summary})" for r in open_] + [f"{c.name}: {c.reason}" for c in undecided]
        )
    if rule.status is CheckStatus.INDETERMINATE:
        return StackVerdict.INCOMPLETE, rule.reason
    return StackVerdict.VALID, f"complete: {rule.reason}; every component VALID"


def verify_umbrella(
    verifier: Verifier,
    pathway: Pathway,
    umbrella: tuple[str, bytes | str | dict[str, Any]],
    files: Sequence[tuple[str, bytes | str | dict[str, Any]]],
    *,
    learner: str | None,
) -> StackReport:
    """An umbrella credential (the qualification) verified with the components it names: the stack
    as :func:`verify_stack`, plus the check ``umbrella``: the qualification is VALID on its own,
    issued by the pathway's owner for this pathway's qualification and this learner, and names
    (``relatedResource``: id and keccak-256 multihash of ``credentialDigest``) exactly the
    components that satisfy the requirements."""
    stack = verify_stack(verifier, pathway, files, learner=learner)
    name, data = umbrella
    report = verifier.verify(data, source=name)
    problems: list[Reason] = []
    status = CheckStatus.PASS
    if report.verdict is not Verdict.VALID:
        status = CheckStatus.FAIL if report.verdict is Verdict.INVALID else CheckStatus.INDETERMINATE
        problems.append(
            Reason(
                "the qualification credential is {verdict} ({summary})",
                verdict=report.verdict.value,
                summary=report.summary,
            )
        )
    else:
        doc = credfile.parse_credential_file(data).credential
        if report.credential.get("issuerId") != pathway.owner:
            problems.append(
                Reason(
                    "it was issued by {issuer}, not the owner {owner}",
                    issuer=report.credential.get("issuerId"),
                    owner=pathway.owner,
                )
            )
        achievement = doc.get("credentialSubject", {}).get("achievement", {})
        if achievement.get("id") != f"{pathway.id}#qualification":
            problems.append(
                Reason("it awards {achievement}, not this pathway's qualification", achievement=achievement.get("id"))
            )
        if learner is not None and not recipient_matches(doc, learner):
            problems.append(Reason("it names another learner"))
        named = {(r.get("id"), r.get("digestMultibase")) for r in doc.get("relatedResource", []) if isinstance(r, dict)}
        used = {key for node in (stack.result or {}).get("nodes", []) for key in node["satisfied_by"]}
        presented = {
            (c.credential.get("id"), component_digest_multibase(str(c.credential["digest"])))
            for c in stack.components
            if c.source in used
        }
        if presented - named:
            problems.append(
                Reason("{count} presented component(s) are not among those it names", count=len(presented - named))
            )
        if named - presented:
            problems.append(
                Reason(
                    "{count} component(s) it names were not presented (or do not count)", count=len(named - presented)
                )
            )
        status = CheckStatus.FAIL if problems else CheckStatus.PASS
    check = _check(
        "umbrella",
        status,
        "; ".join(problems)
        or Reason(
            "the qualification {name} names exactly the {count} components presented",
            name=achievement.get("name"),
            count=len(named),
        ),
    )
    checks = [*stack.checks, check]
    verdict, summary = _verdict(stack.components, checks)
    return stack.model_copy(update={"verdict": verdict, "summary": summary, "checks": checks})
