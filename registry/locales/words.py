"""Words every reader of a verification report sees: the names of the named checks.

One table for the CLI's reports, the share page's live check and the service's pages, so a check
added to the verifier gets its translated name in all of them at once.
"""

from __future__ import annotations

from gettext import NullTranslations

__all__ = ["check_labels"]


def check_labels(t: NullTranslations) -> dict[str, str]:
    """Check name -> its label in ``t``'s language (``pgettext`` context ``check``)."""
    return {
        "format": t.pgettext("check", "format"),
        "integrity": t.pgettext("check", "integrity"),
        "inclusion": t.pgettext("check", "inclusion"),
        "anchor": t.pgettext("check", "anchor"),
        "issuer": t.pgettext("check", "issuer"),
        "signature": t.pgettext("check", "signature"),
        "revocation": t.pgettext("check", "revocation"),
        "lineage": t.pgettext("check", "lineage"),
        "validity": t.pgettext("check", "validity"),
        "pathway": t.pgettext("check", "pathway"),
        "rule": t.pgettext("check", "rule"),
        "learner": t.pgettext("check", "learner"),
        "did": t.pgettext("check", "did"),
    }
