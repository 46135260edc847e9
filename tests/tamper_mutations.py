"""Mutation campaign against credential files: tampered copies of real, anchored files.

``build_corpus`` issues real batches on an anvil (``tests.chain_fixtures.Registry``) and
``generate`` derives tampered files from them, class by class; ``run_campaign`` verifies them all
with :class:`registry.verify.verifier.Verifier` against that chain (``verify_many``, so chain reads are
shared) and counts every tampered file accepted as VALID. Used by
``tests/e2e/test_tamper_campaign.py`` (fast) and ``scripts/bench_tamper.py`` (10,000+ cases).

A *tampered* file is one whose RFC 8785 form differs from the original's in the credential or in
a proof member the verifier checks; JCS-equivalent rewrites (``6`` → ``6.0``, member order,
``\\u00e9`` → ``é``) hash identically by design and are skipped, not counted. The informational
``anchoredAt`` and ``anchorTx`` members are not mutated (see docs/threat-model.md).
"""

from __future__ import annotations

import copy
import json
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import rfc8785

from registry.core.credfile import redact
from registry.core.disclosure import field_hash, flatten, parse_pointer
from registry.verify import Verdict, VerificationPolicy, Verifier
from tests.chain_fixtures import ACHIEVEMENT, Registry
from tests.cohort import synthetic_cohort

Json = dict[str, Any]
Case = tuple[str, Json | bytes]

# Fields a holder may legitimately hide (redact() accepts them), per format version.
HIDEABLE_V1 = (
    "/credentialSubject/result",
    "/credentialSubject/name",
    "/name",
    "/credentialSubject/achievement/learningOutcomes",
    "/credentialSubject/achievement/qualityAssurance",
)
HIDEABLE_V2 = (
    "/credentialSubject/result",
    "/credentialSubject/name",
    "/name",
    "/credentialSubject/achievement/alignment",
    "/credentialSubject/achievement/creditsAvailable",
)
HIDEABLE = HIDEABLE_V2


@dataclass
class Corpus:
    """Real anchored files plus what the mutators splice in (other roots, paths, addresses)."""

    files: list[Json]
    redacted: list[Json]
    expired_redactable: list[Json]
    impersonating: list[Json]
    other_issuer_address: str
    chain_id: int
    registry: str
    foreign_roots: list[str] = field(default_factory=list)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_corpus(registry: Registry, n_files: int = 24, *, version: Literal[1, 2] = 2) -> Corpus:
    """Issue three batches (one of them by issuer 2 in issuer 1's name, one already expired), of
    format ``version`` files."""
    counter = iter(range(1000, 2000))

    def cohort(n: int, which: int = 1) -> list[Json]:
        return list(synthetic_cohort(n, registry.profile(which), ACHIEVEMENT, seed=next(counter), version=version))

    batch = registry.issue(docs=cohort(n_files))
    files = [json.loads(p.read_text()) for p in batch.files]
    other = registry.issue(docs=cohort(max(4, n_files // 4)))
    other_files = [json.loads(p.read_text()) for p in other.files]
    # A batch anchored by issuer 2's key but naming issuer 1 (an admitted issuer impersonating another).
    imp = registry.issue(key=registry.issuer2_key, docs=cohort(4))
    impersonating = [json.loads(p.read_text()) for p in imp.files]
    # Credentials that expired in the past (validUntil before now): hiding validUntil must not help.
    docs = list(synthetic_cohort(4, registry.profile(1), ACHIEVEMENT, seed=777, version=version))
    for d in docs:
        d["validFrom"] = "2020-01-01T00:00:00Z"
        d["validUntil"] = "2021-01-01T00:00:00Z"
    expired_batch = registry.issue(docs=docs)
    expired = [json.loads(p.read_text()) for p in expired_batch.files]
    redacted = []
    hideable = HIDEABLE_V1 if version == 1 else HIDEABLE_V2
    for i, f in enumerate(files):
        hide = [hideable[i % len(hideable)], hideable[(i + 1) % len(hideable)]]
        redacted.append(redact(f, hide))
    return Corpus(
        files=files + other_files,
        redacted=redacted,
        expired_redactable=expired,
        impersonating=impersonating,
        other_issuer_address=registry.issuer2_key.address.lower(),
        chain_id=int(files[0]["proof"][-1]["chainId"]),
        registry=files[0]["proof"][-1]["registry"],
        foreign_roots=[other_files[0]["proof"][-1]["merkleRoot"], impersonating[0]["proof"][-1]["merkleRoot"]],
    )


# -- helpers -------------------------------------------------------------------------------------


def _proof(f: Json) -> Json:
    p: Json = f["proof"][-1]
    return p


def _leaves(f: Json) -> list[tuple[str, Any]]:
    return flatten({k: v for k, v in f.items() if k != "proof"})


def _get_parent(doc: Any, pointer: str) -> tuple[Any, Any]:
    tokens = parse_pointer(pointer)
    node = doc
    for t in tokens[:-1]:
        node = node[int(t)] if isinstance(node, list) else node[t]
    last: Any = int(tokens[-1]) if isinstance(node, list) else tokens[-1]
    return node, last


def _rand_hash(rng: random.Random) -> str:
    return "0x" + rng.randbytes(32).hex()


def _flip_hex(rng: random.Random, h: str) -> str:
    i = rng.randrange(2, len(h))
    c = h[i]
    return h[:i] + rng.choice([x for x in "0123456789abcdef" if x != c]) + h[i + 1 :]


def _edit_value(rng: random.Random, v: Any) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + rng.choice([1, -1, 1000])
    if isinstance(v, float):
        return v + 0.5
    if isinstance(v, str):
        if not v:
            return " "
        i = rng.randrange(len(v))
        choice = rng.randrange(5)
        if choice == 0:
            return v[:i] + v[i + 1 :]
        if choice == 1:
            return v + rng.choice(["x", " ", "\u200b", "\u0000"])
        if choice == 2:
            return v.upper() if v != v.upper() else v.lower() + "z"
        if choice == 3:
            return v[:i] + chr(ord(v[i]) ^ 1) + v[i + 1 :]
        return "A" if v != "A" else "B"
    if v is None:
        return "null"
    if v == {}:
        return []
    if v == []:
        return {}
    return "x"


def _jcs_view(f: Json) -> bytes | None:
    """The bytes a tamper must change: JCS of the credential and of the checked proof members."""
    try:
        proof = {k: v for k, v in _proof(f).items() if k not in ("anchoredAt", "anchorTx")}
        return bytes(rfc8785.dumps({**{k: v for k, v in f.items() if k != "proof"}, "proof": proof}))
    except Exception:
        return None


# -- mutators: (rng, file, corpus) -> tampered file (dict or raw bytes) --------------------------


def m_field_edit(rng: random.Random, f: Json, c: Corpus) -> Json:
    leaves = _leaves(f)
    pointer, value = rng.choice(leaves)
    parent, key = _get_parent(f, pointer)
    parent[key] = _edit_value(rng, value)
    return f


def m_field_delete(rng: random.Random, f: Json, c: Corpus) -> Json:
    pointer, _ = rng.choice(_leaves(f))
    parent, key = _get_parent(f, pointer)
    del parent[key]
    if rng.random() < 0.5:
        _proof(f)["salts"].pop(pointer, None)
    return f


def m_field_add(rng: random.Random, f: Json, c: Corpus) -> Json:
    target = rng.choice([f, f["credentialSubject"], f["credentialSubject"]["achievement"], f["issuer"]])
    name = rng.choice(["honours", "grade", "extra", "eqfLevel2", "note"])
    target[name] = rng.choice(["summa cum laude", 10, True, None, {"k": "v"}])
    if rng.random() < 0.6:  # declare a salt for it, as a forger would
        path = "/" + name if target is f else None
        if path is None:
            for p, _ in flatten({k: v for k, v in f.items() if k != "proof"}):
                if p.endswith("/" + name) or "/" + name + "/" in p:
                    _proof(f)["salts"][p] = "0x" + rng.randbytes(16).hex()
        else:
            _proof(f)["salts"][path] = "0x" + rng.randbytes(16).hex()
    return f


def m_salt_edit(rng: random.Random, f: Json, c: Corpus) -> Json:
    salts = _proof(f)["salts"]
    keys = list(salts)
    op = rng.randrange(5)
    if op == 0:
        k = rng.choice(keys)
        salts[k] = _flip_hex(rng, salts[k])
    elif op == 1 and len(keys) > 1:
        a, b = rng.sample(keys, 2)
        salts[a], salts[b] = salts[b], salts[a]
    elif op == 2:
        del salts[rng.choice(keys)]
    elif op == 3:
        salts["/credentialSubject/extra"] = "0x" + rng.randbytes(16).hex()
    else:  # the same pointer's salt from another credential
        other = rng.choice([o for o in c.files if o is not f])
        k = rng.choice([k for k in keys if k in _proof(other)["salts"]])
        salts[k] = _proof(other)["salts"][k]
    return f


def m_path_edit(rng: random.Random, f: Json, c: Corpus) -> Json:
    path = _proof(f)["merklePath"]
    op = rng.randrange(7)
    if op == 0 and path:
        i = rng.randrange(len(path))
        path[i] = _flip_hex(rng, path[i])
    elif op == 1 and path:
        path.pop(rng.randrange(len(path)))
    elif op == 2:
        path.insert(rng.randrange(len(path) + 1), _rand_hash(rng))
    elif op == 3 and len(path) > 1:
        i, j = rng.sample(range(len(path)), 2)
        path[i], path[j] = path[j], path[i]
    elif op == 4:
        other = rng.choice([o for o in c.files if _proof(o)["merklePath"] != path])
        _proof(f)["merklePath"] = list(_proof(other)["merklePath"])
    elif op == 5 and path:
        path.append(path[-1])
    else:
        path.clear()
    return f


def m_root_chain_contract(rng: random.Random, f: Json, c: Corpus) -> Json:
    p = _proof(f)
    op = rng.randrange(8)
    if op == 0:
        p["merkleRoot"] = rng.choice(c.foreign_roots)
    elif op == 1:
        p["merkleRoot"] = _rand_hash(rng)
    elif op == 2:
        p["chainId"] = rng.choice([1, 5, 10, 137, 11155111, 31338])
    elif op == 3:
        p["registry"] = "0x" + rng.randbytes(20).hex()
    elif op == 4:
        p["registry"] = c.other_issuer_address
    elif op == 5:
        p["issuerAddress"] = c.other_issuer_address
    elif op == 6:
        p["anchorBlock"] = p["anchorBlock"] + rng.choice([-1, 1, 100])
    else:  # root and path of a credential in another batch (inclusion of the other one holds)
        other = rng.choice([o for o in c.files if _proof(o)["merkleRoot"] != p["merkleRoot"]] or c.impersonating)
        p["merkleRoot"] = _proof(other)["merkleRoot"]
        p["merklePath"] = list(_proof(other)["merklePath"])
        p["anchorBlock"] = _proof(other)["anchorBlock"]
    return f


def m_digest_edit(rng: random.Random, f: Json, c: Corpus) -> Json:
    p = _proof(f)
    op = rng.randrange(4)
    if op == 0:
        p["credentialDigest"] = _flip_hex(rng, p["credentialDigest"])
    elif op == 1:
        p["credentialDigest"] = _rand_hash(rng)
    elif op == 2:  # another credential's digest, path and root: inclusion holds, integrity must not
        other = rng.choice([o for o in c.files if o is not f])
        for k in ("credentialDigest", "merklePath", "merkleRoot", "anchorBlock"):
            p[k] = copy.deepcopy(_proof(other)[k])
    else:  # the digest as a Merkle leaf / an inner node (64-byte value) of its own tree
        p["credentialDigest"] = p["merklePath"][0] if p["merklePath"] else _rand_hash(rng)
        p["merklePath"] = p["merklePath"][1:]
    return f


def _hide(rng: random.Random, f: Json, pointer: str, *, salt_kept: bool = False, wrong: bool = False) -> Json:
    """Hand-made redaction of ``pointer`` (possibly mandatory), bypassing redact()'s refusals."""
    p = _proof(f)
    hashes: dict[str, str] = {}
    for ptr, value in _leaves(f):
        if ptr == pointer or ptr.startswith(pointer + "/"):
            salt = p["salts"][ptr] if not wrong else "0x" + rng.randbytes(16).hex()
            hashes[ptr] = "0x" + field_hash(salt, ptr, value).hex()
            if not salt_kept:
                del p["salts"][ptr]
    parent, key = _get_parent(f, pointer)
    del parent[key]
    if isinstance(p["redacted"], dict):  # format v2: hashes by pointer; the signature cannot stay
        p["redacted"] = {**p["redacted"], **hashes}
        p["disclosure"] = "redacted"
        p.pop("profiles", None)
        f["proof"] = [p]
    else:
        p["redacted"] = sorted([*p["redacted"], *hashes.values()])
    p["hiddenPaths"] = [*p["hiddenPaths"], pointer]
    return f


MANDATORY_LEAVES = (
    "/validUntil",
    "/validFrom",
    "/id",
    "/issuer/id",
    "/issuer/name",
    "/credentialSubject/achievement/name",
    "/credentialSubject/achievement/description",
    "/credentialSubject/achievement/criteria",
    "/type/1",
    "/@context/1",
    "/credentialSubject/achievement/type",
    "/issuer",
)


def _hideable(f: Json) -> tuple[str, ...]:
    return HIDEABLE_V2 if isinstance(_proof(f)["redacted"], dict) else HIDEABLE_V1


def m_redaction_abuse(rng: random.Random, f: Json, c: Corpus) -> Json:
    p = _proof(f)
    v2 = isinstance(p["redacted"], dict)
    op = rng.randrange(10)
    if op == 0:  # hide a mandatory field with the correct hash
        return _hide(rng, f, rng.choice(MANDATORY_LEAVES))
    if op == 1:  # hide a field but keep its salt
        return _hide(rng, f, rng.choice(_hideable(f)), salt_kept=True)
    if op == 2:  # hide with a made-up hash
        return _hide(rng, f, rng.choice(_hideable(f)), wrong=True)
    if op == 3:  # fake redacted hash
        if v2:
            p["redacted"] = {**p["redacted"], "/credentialSubject/secret": _rand_hash(rng)}
            p["disclosure"] = "redacted"
            p.pop("profiles", None)
            f["proof"] = [p]
        else:
            p["redacted"] = sorted([*p["redacted"], _rand_hash(rng)])
        p["hiddenPaths"] = p["hiddenPaths"] or ["/credentialSubject/secret"]
        return f
    if op == 4:  # hiddenPaths names a disclosed field
        p["hiddenPaths"] = [*p["hiddenPaths"], rng.choice(_leaves(f))[0]]
        if not p["redacted"]:
            _hide(rng, f, _hideable(f)[4])
        return f
    if op == 5:  # hiddenPaths claims hiding while nothing is redacted, or the reverse
        if p["redacted"]:
            p["hiddenPaths"] = []
        else:
            p["hiddenPaths"] = ["/credentialSubject/result"]
        return f
    if op == 6:  # drop a redacted hash (the field vanishes without trace)
        if not p["redacted"]:
            _hide(rng, f, "/credentialSubject/name")
        if v2:
            p["redacted"].pop(rng.choice(sorted(p["redacted"])))
        else:
            p["redacted"].pop(rng.randrange(len(p["redacted"])))
        return f
    if op == 7:  # redacted not sorted / duplicated
        if len(p["redacted"]) < 2:
            _hide(rng, f, "/credentialSubject/result")
        if v2:  # v2: the same hash under a second pointer (key order means nothing in JSON)
            first = next(iter(p["redacted"].values()))
            p["redacted"] = {**p["redacted"], "/credentialSubject/copy": first}
        elif rng.random() < 0.5:
            p["redacted"] = list(reversed(p["redacted"]))
        else:
            p["redacted"] = sorted([*p["redacted"], p["redacted"][0]])
        return f
    if op == 8:  # re-disclose a hidden field with a made-up value and salt
        if not p["redacted"]:
            _hide(rng, f, "/credentialSubject/name")
        f["credentialSubject"]["name"] = "Mallory Forger"
        p["salts"]["/credentialSubject/name"] = "0x" + rng.randbytes(16).hex()
        return f
    # hide an entire mandatory subtree's parent
    return _hide(rng, f, rng.choice(["/credentialSubject/achievement", "/credentialSubject", "/issuer"]))


def m_type_confusion(rng: random.Random, f: Json, c: Corpus) -> Json:
    op = rng.randrange(8)
    ach = f["credentialSubject"]["achievement"]
    v1 = "eqfLevel" in ach
    if op == 0:
        if v1:
            ach["eqfLevel"] = str(ach["eqfLevel"])
        else:
            ach["alignment"][0]["targetCode"] = int(ach["alignment"][0]["targetCode"])
    elif op == 1:
        if v1:
            ach["workloadEcts"] = str(ach["workloadEcts"])
        else:
            ach["creditsAvailable"] = str(ach["creditsAvailable"])
    elif op == 2:  # list as dict with index keys: hashes identically (same pointers)
        name = "learningOutcomes" if v1 else "alignment"
        ach[name] = {str(i): v for i, v in enumerate(ach[name])}
    elif op == 3:
        pointer = rng.choice([p for p, _ in _leaves(f) if p.rsplit("/", 1)[-1].isdigit()])
        parent_ptr = pointer.rsplit("/", 1)[0]
        parent, key = _get_parent(f, parent_ptr)
        parent[key] = {str(i): v for i, v in enumerate(parent[key])}
    elif op == 4:
        f["credentialSubject"]["identifier"][0]["hashed"] = "true"
    elif op == 5:
        f["type"] = {"0": "VerifiableCredential", "1": "OpenBadgeCredential"}
    elif op == 6:  # scalar wrapped in a list: pointer gains /0
        f["credentialSubject"]["name"] = [f["credentialSubject"].get("name", "x")]
    else:
        f["credentialSubject"]["result"][0]["value"] = rng.choice([1, 1.5, True, None, ["A"]])
    return f


_CONFUSABLES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "i": "\u0456", "c": "\u0441", "p": "\u0440"}


def m_unicode(rng: random.Random, f: Json, c: Corpus) -> Json:
    strings = [(p, v) for p, v in _leaves(f) if isinstance(v, str) and v]
    pointer, value = rng.choice(strings)
    parent, key = _get_parent(f, pointer)
    op = rng.randrange(6)
    if op == 0:
        new = unicodedata.normalize("NFD", value + "é")
    elif op == 1:
        new = "".join(_CONFUSABLES.get(ch, ch) for ch in value) + (
            "" if any(ch in _CONFUSABLES for ch in value) else "а"
        )
    elif op == 2:
        new = value[:1] + "\u200b" + value[1:]
    elif op == 3:
        new = value + "\u202e"
    elif op == 4:
        new = unicodedata.normalize("NFKC", "\uff21") + value  # fullwidth A folded
    else:  # the key of the field decomposed: a different pointer
        if isinstance(key, str):
            parent[unicodedata.normalize("NFD", key + "é")] = parent.pop(key)
            return f
        new = value + "\u0301"
    parent[key] = new
    return f


def m_proof_structure(rng: random.Random, f: Json, c: Corpus) -> Json:
    op = rng.randrange(7)
    p = _proof(f)
    if op == 0:
        f["proof"] = p
    elif op == 1:
        f["proof"] = [p, copy.deepcopy(p)]
    elif op == 2:
        p["extra"] = "x"
    elif op == 3:
        del p[rng.choice(["merklePath", "salts", "redacted", "credentialDigest", "chainId"])]
    elif op == 4:
        p[rng.choice(["format", "hashAlgorithm", "type"])] = "credreg-proof-v2"
    elif op == 5:
        p["credentialDigest"] = p["credentialDigest"].upper().replace("0X", "0x")
    else:
        p["merkleRoot"] = p["merkleRoot"] + "\n"
    return f


def m_splice(rng: random.Random, f: Json, c: Corpus) -> Json:
    other = rng.choice([o for o in c.files if o is not f])
    op = rng.randrange(3)
    if op == 0:  # another learner's subject, with its salts
        f["credentialSubject"] = copy.deepcopy(other["credentialSubject"])
        for k, v in _proof(other)["salts"].items():
            if k.startswith("/credentialSubject"):
                _proof(f)["salts"][k] = v
    elif op == 1:  # another credential's body with this proof
        body = {k: copy.deepcopy(v) for k, v in other.items() if k != "proof"}
        return {**body, "proof": f["proof"]}
    else:  # this body with the other's salts
        _proof(f)["salts"] = copy.deepcopy(_proof(other)["salts"])
    return f


def m_issuer_impersonation(rng: random.Random, f: Json, c: Corpus) -> Json:
    op = rng.randrange(3)
    if op == 0:
        return copy.deepcopy(rng.choice(c.impersonating))  # genuine anchoring, wrong issuer name
    if op == 1:
        f["issuer"]["id"] = "other.example"
        return f
    g = copy.deepcopy(rng.choice(c.impersonating))
    _proof(g)["issuerAddress"] = _proof(f)["issuerAddress"]
    return g


def m_expiry_hidden(rng: random.Random, f: Json, c: Corpus) -> Json:
    g = copy.deepcopy(rng.choice(c.expired_redactable))
    _hide(rng, g, "/validUntil")
    if rng.random() < 0.5:
        _hide(rng, g, "/credentialSubject/result")
    if rng.random() < 0.7:  # do not admit it in hiddenPaths
        _proof(g)["hiddenPaths"] = [rng.choice(["/credentialSubject/notes", "/credentialSubject/result"])]
    return g


def _huge(rng: random.Random, f: Json, c: Corpus) -> bytes:
    text = json.dumps(f, ensure_ascii=False)
    op = rng.randrange(8)
    if op == 0:  # over the size limit
        return text[:-1].encode() + b', "padding": "' + b"x" * (2 * 1024 * 1024 + 10) + b'"}'
    if op == 1:  # deeply nested value
        depth = rng.choice([33, 200, 5000, 200_000])
        return text[:-1].encode() + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    if op == 2:
        depth = rng.choice([40, 3000])
        return text[:-1].encode() + b', "deep": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    if op == 3:  # a 5000-digit number
        return text[:-1].encode() + b', "big": ' + b"9" * 5000 + b"}"
    if op == 4:
        return text[:-1].encode() + b', "inf": 1e999}'
    if op == 5:
        return text[:-1].encode() + b', "nan": NaN}'
    if op == 6:  # 100k-element array
        return text[:-1].encode() + b', "many": [' + b",".join([b"0"] * 100_000) + b"]}"
    return b"[" + text.encode() + b"]"


def _syntax(rng: random.Random, f: Json, c: Corpus) -> bytes:
    """Parser differentials: duplicate keys (first or last wins elsewhere), bad UTF-8, BOMs."""
    text = json.dumps(f, ensure_ascii=False)
    op = rng.randrange(6)
    if op == 0:
        return ('{"id": "urn:uuid:forged", ' + text[1:]).encode()
    if op == 1:
        return (text[:-1] + ', "id": "urn:uuid:forged"}').encode()
    if op == 2:
        name = json.dumps(f["credentialSubject"]["achievement"]["name"])
        return text.replace(f'"name": {name}', f'"name": "Forged", "name": {name}', 1).encode()
    if op == 3:
        return text.encode("utf-16")
    if op == 4:
        raw = text.encode()
        i = rng.randrange(len(raw))
        return raw[:i] + b"\xff" + raw[i + 1 :]
    raw = text.encode()
    return raw[: rng.randrange(1, len(raw))]


Mutator = Callable[[random.Random, Json, Corpus], Json | bytes]

CLASSES: dict[str, tuple[Mutator, str]] = {
    # name: (mutator, source: "plain" files, "redacted" files or "any")
    "field_edit": (m_field_edit, "any"),
    "field_delete": (m_field_delete, "any"),
    "field_add": (m_field_add, "any"),
    "salt_edit": (m_salt_edit, "any"),
    "path_edit": (m_path_edit, "any"),
    "root_chain_contract_swap": (m_root_chain_contract, "any"),
    "digest_edit": (m_digest_edit, "any"),
    "redaction_abuse": (m_redaction_abuse, "any"),
    "type_confusion": (m_type_confusion, "plain"),
    "unicode": (m_unicode, "any"),
    "proof_structure": (m_proof_structure, "any"),
    "splice": (m_splice, "plain"),
    "issuer_impersonation": (m_issuer_impersonation, "plain"),
    "expiry_hidden": (m_expiry_hidden, "plain"),
    "huge_or_deep_json": (_huge, "plain"),
    "json_syntax": (_syntax, "plain"),
}


def every_leaf_edits(c: Corpus) -> Iterator[Case]:
    """Deterministic coverage: every disclosed leaf of one plain and one redacted file, edited."""
    rng = random.Random(1)
    for source in (c.files[0], c.redacted[0]):
        for pointer, value in _leaves(source):
            f = copy.deepcopy(source)
            parent, key = _get_parent(f, pointer)
            parent[key] = _edit_value(rng, value)
            yield "field_edit", f
            g = copy.deepcopy(source)
            _proof(g)["salts"][pointer] = _flip_hex(rng, _proof(g)["salts"][pointer])
            yield "salt_edit", g


def generate(c: Corpus, n: int, seed: int = 0) -> tuple[list[Case], int]:
    """``n`` tampered files (deterministic for a seed) and how many JCS-equivalent rewrites were
    skipped."""
    rng = random.Random(seed)
    cases: list[Case] = list(every_leaf_edits(c))[:n]
    names = list(CLASSES)
    skipped = 0
    originals = {_jcs_view(f) for f in [*c.files, *c.redacted]}
    while len(cases) < n:
        name = names[len(cases) % len(names)]
        mutator, source = CLASSES[name]
        pool = c.files if source == "plain" else rng.choice([c.files, c.redacted])
        f = copy.deepcopy(rng.choice(pool))
        try:
            out = mutator(rng, f, c)
        except (IndexError, KeyError, ValueError, TypeError):
            skipped += 1  # the mutation does not apply to this file
            continue
        if isinstance(out, dict) and _jcs_view(out) in originals:
            skipped += 1  # not a tamper: hashes and reads exactly like an original
            continue
        cases.append((name, out))
    return cases, skipped


def controls(c: Corpus) -> list[Case]:
    """Files that must verify VALID: the originals and correct redactions (the harness is honest)."""
    out: list[Case] = [("original", copy.deepcopy(f)) for f in c.files]
    out += [("redacted", copy.deepcopy(f)) for f in c.redacted]
    return out


def run_campaign(registry: Registry, n: int, *, seed: int = 0, chunk: int = 500, n_files: int = 24) -> dict[str, Any]:
    """Issue, mutate, verify; return the figures (``tamper_accepted`` must be 0)."""
    corpus = build_corpus(registry, n_files)
    t0 = time.perf_counter()
    cases, skipped = generate(corpus, n, seed)
    generated_s = time.perf_counter() - t0
    verifier = Verifier(VerificationPolicy(trusted=registry.trust, now=datetime.now(UTC)), rpc_url=registry.rpc_url)
    ctrl = controls(corpus)
    ctrl_reports = verifier.verify_many([(name, data) for name, data in ctrl])
    controls_valid = sum(r.verdict is Verdict.VALID for r in ctrl_reports)
    by_class: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    failed_checks: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    t1 = time.perf_counter()
    for start in range(0, len(cases), chunk):
        part = cases[start : start + chunk]
        reports = verifier.verify_many([(f"{name}#{start + i}", data) for i, (name, data) in enumerate(part)])
        for (name, data), report in zip(part, reports, strict=True):
            by_class[name] += 1
            verdicts[report.verdict.value] += 1
            first_bad = next((ch.name for ch in report.checks if ch.status.value != "pass"), "none")
            failed_checks[first_bad] += 1
            if report.verdict is Verdict.VALID:
                accepted[name] += 1
                if len(examples) < 5:
                    examples.append({"class": name, "file": data if isinstance(data, dict) else repr(data[:300])})
    verify_s = time.perf_counter() - t1
    return {
        "tamper_cases": len(cases),
        "tamper_accepted": sum(accepted.values()),
        "tamper_by_class": dict(sorted(by_class.items())),
        "tamper_accepted_by_class": dict(sorted(accepted.items())),
        "tamper_verdicts": dict(sorted(verdicts.items())),
        "tamper_first_failing_check": dict(sorted(failed_checks.items())),
        "tamper_equivalent_skipped": skipped,
        "tamper_controls": len(ctrl),
        "tamper_controls_valid": controls_valid,
        "tamper_generate_s": round(generated_s, 2),
        "tamper_verify_s": round(verify_s, 2),
        "tamper_files_per_s": round(len(cases) / verify_s, 1) if verify_s else None,
        "tamper_examples": examples,
    }
