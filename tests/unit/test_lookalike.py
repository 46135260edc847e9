"""Look-alike directory entries (registry.core.lookalike): UTS #39 skeletons, mixed scripts,
equal names, case variants and punycode hosts, and clean pairs that must not be flagged."""

from __future__ import annotations

import idna
import pytest

from registry.core.lookalike import DirectoryName, Lookalike, Reason, display_identifier, find_lookalikes, lookalikes_of

CYR_E = "\u0435"  # CYRILLIC SMALL LETTER IE, looks like Latin e
CYR_I = "\u0456"  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I, looks like Latin i


def did_web(host: str) -> str:
    """The canonical did:web of a (possibly internationalised) host."""
    return "did:web:" + idna.encode(host, uts46=True).decode("ascii")


def entry(iid: int, name: str, uri: str) -> DirectoryName:
    return DirectoryName(iid, name, uri)


def pairs(found: list[Lookalike]) -> dict[tuple[int, ...], set[Reason]]:
    return {hit.issuer_ids: set(hit.reasons) for hit in found}


UNI = entry(1, "Universidad de Ejemplo", "did:web:uni.example")
OTHER = entry(2, "Other College", "did:web:other.example")


def test_a_clean_directory_has_no_lookalikes() -> None:
    clean = [
        UNI,
        OTHER,
        entry(3, "東京大学", did_web("東京大学.example")),  # one script (Han) is not mixed
        entry(4, "Московский университет", did_web("мгу.example")),
        entry(5, "Universität Zürich", did_web("uzh.example")),
        entry(6, "Key Holder", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"),
    ]
    assert find_lookalikes(clean) == []
    assert lookalikes_of(entry(0, "Other College of Arts", "did:web:arts.example"), clean) == []


def test_a_cyrillic_letter_in_a_punycode_domain_is_found() -> None:
    lookalike = did_web(f"un{CYR_I}.example")
    assert lookalike.startswith("did:web:xn--un-")
    assert display_identifier(lookalike) == f"did:web:un{CYR_I}.example"
    found = find_lookalikes([UNI, OTHER, entry(3, "Uni", lookalike)])
    assert pairs(found) == {(3,): {Reason.MIXED_SCRIPT_DOMAIN}, (1, 3): {Reason.CONFUSABLE_DOMAIN}}
    hit = next(h for h in found if h.issuer_ids == (1, 3))
    assert f"{lookalike} (shown as did:web:un{CYR_I}.example)" in hit.explanation


def test_a_cyrillic_e_in_a_later_label_is_found() -> None:
    lookalike = did_web(f"uni.{CYR_E}xample")
    assert pairs(find_lookalikes([UNI, entry(2, "U", lookalike)])) == {
        (2,): {Reason.MIXED_SCRIPT_DOMAIN},
        (1, 2): {Reason.CONFUSABLE_DOMAIN},
    }


def test_a_whole_script_lookalike_domain_is_found_without_mixed_scripts() -> None:
    # "ехр" is all Cyrillic: single script, but its skeleton is the Latin "exp".
    cyrillic = did_web("\u0435\u0445\u0440.example")
    assert pairs(find_lookalikes([entry(1, "A", "did:web:exp.example"), entry(2, "B", cyrillic)])) == {
        (1, 2): {Reason.CONFUSABLE_DOMAIN}
    }


def test_equal_display_names_after_nfkc_and_case_folding() -> None:
    twins = [
        UNI,
        entry(2, "  UNIVERSIDAD  de ejemplo ", "did:web:uni2.example"),
        entry(3, "Ｕｎｉｖｅｒｓｉｄａｄ de Ejemplo", "did:web:u3.example"),
    ]
    assert pairs(find_lookalikes(twins)) == {
        (1, 2): {Reason.SAME_NAME},
        (1, 3): {Reason.SAME_NAME},
        (2, 3): {Reason.SAME_NAME},
    }


def test_confusable_names_and_domains_by_skeleton() -> None:
    fake = entry(3, "0ther Co11ege", "did:web:0ther.example")
    assert pairs(find_lookalikes([UNI, OTHER, fake])) == {(2, 3): {Reason.CONFUSABLE_NAME, Reason.CONFUSABLE_DOMAIN}}


def test_a_name_mixing_scripts_is_flagged_word_by_word() -> None:
    mixed = entry(3, f"Un{CYR_I}versidad Nueva", "did:web:nueva.example")
    found = find_lookalikes([UNI, mixed])
    assert pairs(found) == {(3,): {Reason.MIXED_SCRIPT_NAME}}
    assert "(Cyrillic, Latin)" in found[0].explanation
    # Two words in two scripts is a bilingual name, not a mixed-script word.
    assert find_lookalikes([entry(4, "Universidad Университет", "did:web:bi.example")]) == []


@pytest.mark.parametrize(
    ("first", "second", "reasons"),
    [
        ("did:key:z6MkABC", "did:key:z6Mkabc", {Reason.CASE_VARIANT}),  # did:key is case-sensitive: two ids
        ("did:web:uni.example", "did:web:UNI.example", {Reason.CASE_VARIANT, Reason.SAME_IDENTIFIER}),
        ("did:web:uni.example", "https://uni.example/", {Reason.SAME_IDENTIFIER}),
    ],
)
def test_case_variants_and_spellings_of_one_identifier(first: str, second: str, reasons: set[Reason]) -> None:
    assert pairs(find_lookalikes([entry(1, "A", first), entry(2, "B", second)])) == {(1, 2): reasons}


def test_lookalikes_of_a_candidate_names_the_existing_entry_first() -> None:
    candidate = entry(0, "Universidad de Ejemplo", did_web(f"un{CYR_I}.example"))
    found = lookalikes_of(candidate, [UNI, OTHER])
    assert pairs(found) == {
        (0,): {Reason.MIXED_SCRIPT_DOMAIN},
        (1, 0): {Reason.SAME_NAME, Reason.CONFUSABLE_DOMAIN},
    }
    assert lookalikes_of(entry(0, "Other", "did:web:uni.example.org"), [UNI, OTHER]) == []


def test_punycode_labels_idna_refuses_are_still_decoded_for_comparison() -> None:
    # U+2603 SNOWMAN is not valid IDNA 2008, but a legacy entry may hold it: raw punycode decoding.
    assert display_identifier("did:web:xn--n3h.example") == "did:web:\u2603.example"
    assert display_identifier("did:web:xn--zz.example") == "did:web:xn--zz.example"  # not punycode: kept
    assert display_identifier("did:web:uni.example%3A8443:path") == "did:web:uni.example%3A8443:path"
