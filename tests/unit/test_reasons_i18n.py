"""The checks' reasons in the reader's language (issue 14; registry/locales/reasons.py).

A reason is a ``str`` equal to its English text (JSON reports and the tests of the checks see
nothing else) that carries its template and parameters; :func:`localize` shows it in Spanish
through the ``messages`` catalog (``msgctxt "reason"``), also when only its text is left (a
report read back from JSON). Every template the code uses is extracted with Babel and must have a
Spanish entry with the same placeholders."""

from __future__ import annotations

import ast
import copy
import pickle
import re
import string
from pathlib import Path

import pytest
from _core_fixtures import ANCHOR
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from test_checks import (
    OLD_ID,
    T_ANCHOR,
    V1,
    V2_FULL,
    batch,
    claimed,
    item_of,
    lineage,
    supersession,
)

from registry.chain.model import REVOCATION_REASONS, SUPERSESSION_KINDS, CredentialRevocation
from registry.locales import reasons
from registry.locales.reasons import Reason, localize, phrase, reason_table
from registry.verify.checks import report_of, revocation_check
from registry.verify.report import Check, CheckStatus, Report
from tests.unit.test_checks import POLICY

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "registry" / "locales" / "es" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"Reason": None, "phrase": None}
"""How Babel finds the templates: the first argument of ``Reason(...)`` and ``phrase(...)``."""


def _fields(template: str) -> list[str]:
    return sorted({name for _, name, _, _ in string.Formatter().parse(template) if name is not None})


# -- the message type ------------------------------------------------------------------------


def test_a_reason_is_its_english_text() -> None:
    r = Reason("revoked by the issuer on {at}: {why}", at="2026-01-01T00:00:00Z", why=phrase("key compromise"))
    assert r == "revoked by the issuer on 2026-01-01T00:00:00Z: key compromise"
    assert isinstance(r, str) and str(r) == r and hash(r) == hash(str(r))
    assert r.template == "revoked by the issuer on {at}: {why}" and r.params["at"] == "2026-01-01T00:00:00Z"
    assert f"revocation: {r}" == "revocation: revoked by the issuer on 2026-01-01T00:00:00Z: key compromise"
    assert Reason("no placeholders {here}") == "no placeholders {here}"  # no params: the text as it is
    assert Reason("{name!r} earned {credits:g} credits", name="Ada", credits=7.5) == "'Ada' earned 7.5 credits"


def test_a_reason_survives_pickling_and_the_report_model() -> None:
    r = Reason("valid from {validFrom} until {validUntil}", validFrom="a {b}", validUntil="c")
    back = pickle.loads(pickle.dumps(r))  # process pools pickle the checks' items
    assert type(back) is Reason and back == r and back.template == r.template and back.params == r.params
    check = Check(name="validity", status=CheckStatus.PASS, reason=r)
    assert isinstance(check.reason, Reason)
    assert check.model_dump(mode="json")["reason"] == "valid from a {b} until c"
    assert Check.model_validate_json(check.model_dump_json()).reason == r  # read back: its text


def test_english_is_unchanged_and_an_unknown_reason_stays_as_it_is() -> None:
    r = Reason("revoked by the issuer on {at}: {why}", at="2026-01-01T00:00:00Z", why=phrase("issued in error"))
    assert localize(r, "en") == r
    assert r.in_language("es") == "revocada por el emisor el 2026-01-01T00:00:00Z: emitida por error"
    assert localize("something no template knows", "es") == "something no template knows"
    assert localize("", "es") == ""
    assert reason_table("en") == {}
    assert localize(Reason("a reason nobody translated {x}", x=1), "es") == "a reason nobody translated 1"


# -- Spanish, from the real checks --------------------------------------------------------------


def test_a_revoked_credential_in_spanish_with_the_reason_name_translated() -> None:
    item = item_of(V2_FULL)
    revocation_check(item, batch(), CredentialRevocation(T_ANCHOR + 60, 3, 4))
    reason = item.checks["revocation"].reason
    assert reason == "revoked by the issuer on 2025-03-01T12:01:00Z: academic or professional misconduct"
    spanish = "revocada por el emisor el 2025-03-01T12:01:00Z: mala conducta académica o profesional"
    assert localize(reason, "es") == spanish
    assert localize(str(reason), "es") == spanish  # only the text (a report read back from JSON)
    unknown = item_of(V2_FULL)
    revocation_check(unknown, batch(), CredentialRevocation(T_ANCHOR + 60, 99, 4))
    assert localize(unknown.checks["revocation"].reason, "es").endswith(": código 99")


def test_a_batch_revocation_and_a_supersession_in_spanish() -> None:
    item = item_of(V2_FULL)
    revocation_check(item, batch(revoked_at=T_ANCHOR + 120, revocation_reason=4), None)
    assert (
        localize(item.checks["revocation"].reason, "es")
        == "el emisor revocó el lote completo el 2025-03-01T12:02:00Z: clave del emisor comprometida"
    )
    s = supersession("0x" + "ef" * 32, kind=2)
    revocation_check(item, batch(), CredentialRevocation(s.superseded_at, 2, 4), s)
    reason = item.checks["revocation"].reason
    assert reason == f"superseded by {s.new_id} on 2025-03-02: renewal"
    assert localize(reason, "es") == f"reemplazada por {s.new_id} el 2025-03-02: renovación"
    assert localize(str(reason), "es") == f"reemplazada por {s.new_id} el 2025-03-02: renovación"


def test_a_lineage_claim_in_spanish() -> None:
    s = supersession("0x" + "00" * 32, kind=2)
    item = claimed("correction")
    item.digest = s.new_digest
    status, reason, _ = lineage(item, s)
    assert status is CheckStatus.FAIL
    assert localize(reason, "es") == (
        f"dice reemplazar a {OLD_ID} mediante una corrección, pero en el registro consta una renovación"
    )


def test_a_tampered_file_in_spanish_translates_the_core_message_too() -> None:
    data = copy.deepcopy(V1)
    data["credentialSubject"]["name"] = "Eve"
    report = report_of(item_of(data), POLICY)
    reason = report.check("integrity").reason
    spanish = localize(reason, "es")
    assert spanish.startswith("el contenido no coincide con el resumen (digest) anclado: /proof/0/credentialDigest: ")
    assert "se modificaron la credencial, sus sales o sus hashes ocultos" in spanish
    assert spanish.endswith(". El archivo se modificó después de su emisión.")
    # A report read back from JSON (the service, the browser) gives the same Spanish.
    again = Report.model_validate_json(report.model_dump_json())
    assert localize(again.check("integrity").reason, "es") == spanish
    path = copy.deepcopy(V1)
    path["proof"][0]["merklePath"][0] = "0x" + "77" * 32
    inclusion = item_of(path).checks["inclusion"].reason
    assert localize(inclusion, "es") == (
        "prueba de Merkle no válida: la ruta no lleva a la raíz de Merkle: esta credencial no forma parte del lote "
        "que indica"
    )


def test_every_check_of_a_good_file_is_spanish() -> None:
    report = report_of(item_of(V2_FULL), POLICY)
    for check in report.checks:
        spanish = localize(check.reason, "es")
        assert spanish != check.reason, (check.name, check.reason)


def test_a_quoted_parameter_keeps_its_quotes_and_numbers_their_format() -> None:
    r = Reason("the requirements of {name} are met ({credits:g} credits)", name="Data", credits=12.0)
    assert r == "the requirements of Data are met (12 credits)"
    assert localize(r, "es") == "se cumplen los requisitos de Data (12 créditos)"
    assert localize(str(r), "es") == "se cumplen los requisitos de Data (12 créditos)"
    named = Reason(
        "the credential names issuer {named!r}, but the batch was anchored by the key of directory entry "
        "{did!r} ({name}): an issuer cannot issue in another's name",
        named="did:web:a.example",
        did="did:web:b.example",
        name="B",
    )
    expected = (
        "la credencial indica el emisor 'did:web:a.example', pero el lote lo ancló la clave de la entrada del "
        "directorio 'did:web:b.example' (B): un emisor no puede emitir en nombre de otro"
    )
    assert localize(named, "es") == expected and localize(str(named), "es") == expected


def test_the_table_of_reasons_is_the_catalogs_reason_context() -> None:
    table = reason_table("es")
    assert table["revoked by the issuer on {at}: {why}"] == "revocada por el emisor el {at}: {why}"
    assert "Verify a credential" not in table  # the pages' words are not reasons
    assert reasons.CONTEXT == "reason"
    assert ANCHOR.registry  # (the fixtures' anchor: a real registry address)


# -- every template translated -------------------------------------------------------------------


_MUTANT = re.compile(r"x_\w+__mutmut_\d+")
"""A function mutmut wrote beside the original (``x_name__mutmut_3``); its strings are mutants."""


def _mutant_lines(path: Path) -> set[int]:
    """The lines of the mutant variants in a source file of mutmut's copy (none elsewhere)."""
    text = path.read_text(encoding="utf-8")
    if "__mutmut_" not in text:
        return set()
    return {
        line
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _MUTANT.fullmatch(node.name)
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }


def _code_templates() -> set[str]:
    """Every template and phrase the code passes to ``Reason``/``phrase``, by Babel's extractor
    (under ``make mutation``, the original functions' only, not their mutants')."""
    found: set[str] = set()
    for path in sorted((ROOT / "registry").rglob("*.py")):
        skip = _mutant_lines(path)
        for line, msg, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            if line not in skip:
                found.add(msg if isinstance(msg, str) else msg[0])
    # Phrases passed as values (the contract's reason codes and kinds): their names.
    found.update(REVOCATION_REASONS.values())
    found.update(SUPERSESSION_KINDS.values())
    return found


def test_every_reason_in_the_code_has_a_spanish_translation() -> None:
    templates = _code_templates()
    assert len(templates) > 60, len(templates)  # the extractor did find the checks' reasons
    assert "revoked by the issuer on {at}: {why}" in templates
    assert "superseded by {successor} on {on}: {kind}" in templates
    assert (  # implicit concatenation across lines is one msgid
        "the file shows no validUntil but hides {count} field(s): an expiry date may be among them (a correct "
        "redaction never hides validUntil); ask the holder for a copy that hides less"
    ) in templates
    table = reason_table("es")
    missing = sorted(t for t in templates if not table.get(t))
    assert not missing, missing


def test_the_spanish_reasons_keep_their_placeholders() -> None:
    with PO.open("rb") as po:
        catalog = read_po(po, locale="es")
    entries = [m for m in catalog if m.context == "reason"]
    assert len(entries) > 60
    for m in entries:
        assert isinstance(m.id, str) and isinstance(m.string, str)
        assert m.string and not m.fuzzy, m.id
        assert _fields(m.id) == _fields(m.string), m.id
        # the same conversions and format specs ({name!r}, {credits:g}), so both fill alike
        assert sorted(re.findall(r"\{\w+[!:][^}]*\}", m.id)) == sorted(re.findall(r"\{\w+[!:][^}]*\}", m.string))


@pytest.mark.parametrize("text", sorted(_code_templates()))
def test_every_template_round_trips_from_its_text(text: str) -> None:
    """Filled with distinct values, a template's English text is recognised as that template
    again (the text of a report read back from JSON is translated the same way)."""
    names = _fields(text)
    if not names:
        assert localize(text, "es") == reason_table("es")[text]
        return
    numeric = {name for _, name, spec, _ in string.Formatter().parse(text) if name and spec}  # {credits:g}
    values: dict[str, object] = {n: 7.5 + i if n in numeric else f"<{n.upper()}{i}>" for i, n in enumerate(names)}
    english = Reason(text, **values)
    assert localize(str(english), "es") == localize(english, "es"), text


def test_several_reasons_in_one_text_are_translated_part_by_part() -> None:
    one = Reason("it names another learner")
    two = Reason("{count} presented component(s) are not among those it names", count=2)
    assert (
        localize(f"{one}; {two}", "es")
        == "indica otro estudiante; 2 componente(s) presentado(s) no están entre los que indica"
    )
    # a reason whose own text holds "; " is matched whole first
    passed = Reason(
        "issued by {name} ({did}), admitted {admitted} by accreditation body {body}; anchoring key valid "
        "at anchoring time; registry trusted via {trusted}",
        name="U",
        did="did:web:u.example",
        admitted="2026-01-01T00:00:00Z",
        body="B",
        trusted=phrase("the caller's policy"),
    )
    assert localize(str(passed), "es").endswith("registro de confianza según la política de quien verifica")
    assert localize("unknown; it names another learner", "es") == "unknown; indica otro estudiante"
