"""Server-rendered pages (Jinja2, no front-end build): verify, share, issuer dashboard."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import col, select

from registry import locales
from registry.chain.artifacts import ARTIFACT_DIR
from registry.core.credential import eu_elements
from registry.errors import AuthenticationError, ConfigError, Conflict, NotFound, RegistryError
from registry.locales.reasons import reason_table
from registry.locales.words import check_labels
from registry.service.api.deps import SESSION_COOKIE, PageIssuer, SessionDep, StateDep
from registry.service.api.downloads import file_response
from registry.service.api.schemas import BatchOut
from registry.service.api.state import ServiceState
from registry.service.auth import open_page_session
from registry.service.issuance import batch_counts, credential_file, get_credential
from registry.service.issuers import LINKEDIN_ORG
from registry.service.lineage import lineage_of
from registry.service.pathways import pathways_for_achievement
from registry.service.store import Batch, CredentialRow, CredentialState, Issuer, PathwayRow, WebhookDelivery
from registry.service.webhooks import delivery_view
from registry.verify.page import render_page

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
# Translations (registry.locales): `{% trans %}` and `_()` in the templates; the gettext callables
# of the request's language come with each render's context (the null ones are the fallback).
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_null_translations()  # type: ignore[attr-defined]
LANG_COOKIE = "lang"

STATE_LABELS = {
    "pending": "pending",
    "signed": "pending",
    "submitted": "submitted",
    "confirmed": "confirmed",
    "revoked": "revoked",
    "failed": "failed",
}


def page_language(request: Request) -> str:
    """The language of a page: ``?lang=`` (the switch), else the ``lang`` cookie the switch set,
    else ``Accept-Language``, else English."""
    return locales.choose(
        request.query_params.get("lang") or request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def _credential_label(lang: str) -> Any:
    def label(row: CredentialRow) -> str:
        """A credential for a list: its name in the page's language, issuer, issue date."""
        doc = json.loads(row.doc)
        issuer = doc.get("issuer") if isinstance(doc.get("issuer"), dict) else {}
        parts = (
            locales.localized(doc.get("name"), lang) or row.credential_uri,
            locales.localized(issuer.get("name"), lang),
            locales.format_date(doc.get("validFrom"), lang) if doc.get("validFrom") else "",
        )
        return ", ".join(p for p in parts if p)

    return label


def i18n_context(request: Request) -> dict[str, Any]:
    """What the templates need for the request's language: gettext callables, ``lang``, the
    language switch, and the helpers that pick a credential's text and format dates."""
    lang = page_language(request)
    t = locales.translations(lang)
    return {
        "lang": lang,
        "gettext": t.gettext,
        "ngettext": t.ngettext,
        "_": t.gettext,
        "languages": locales.LANGUAGES,
        "lang_url": lambda code: str(request.url.include_query_params(lang=code)).removeprefix(
            str(request.base_url).rstrip("/")
        ),
        "localized": lambda value: locales.localized(value, lang),
        "format_date": lambda value: locales.format_date(value, lang),
        "credential_label": _credential_label(lang),
    }


def localize_response(request: Request, response: Response, lang: str) -> Response:
    """Language headers of a page; the switch's choice kept in a cookie for the next pages."""
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    asked = locales.normalise(request.query_params.get("lang"))
    if asked and asked != request.cookies.get(LANG_COOKIE):
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    extra = i18n_context(request)
    response = templates.TemplateResponse(request, name, {**extra, **context}, status_code=status)
    localize_response(request, response, extra["lang"])
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return render(request, "index.html")


def _verifier_trust(state: ServiceState) -> dict[int, dict[str, str]]:
    """This service's own deployment, the registry the page offers to trust."""
    try:  # a chain that cannot be reached now still gets the page (its checks will say so)
        client = state.chain()
        if client.registry_address:
            return {client.reads.chain_id(): {client.registry_address: "this service's own deployment"}}
    except RegistryError:
        pass
    return {}


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, state: StateDep) -> HTMLResponse:
    """The self-contained verifier page: the checks run in the visitor's browser against the
    chain's RPC; the credential file never reaches this server. The RPC offered is
    ``public_rpc_url`` (the service's own RPC may carry a provider key: never published). In the
    request's language, with the same language switch as the other pages."""
    context = i18n_context(request)
    lang = context["lang"]
    switch = {code: context["lang_url"](code) for code in locales.LANGUAGES}
    try:
        html = render_page(state.settings.public_rpc(), _verifier_trust(state), lang=lang, switch=switch)
    except ConfigError:
        return render(
            request,
            "message.html",
            503,
            title="Verifier page not built",
            message="The verifier page is not built on this server (run `make setup`). "
            "The verify API (POST /v1/verify) still works.",
        )
    response = HTMLResponse(html, headers={"Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"})
    localize_response(request, response, lang)
    return response


@router.post("/verify")
def verify_upload() -> Response:
    """The former upload form: files are no longer sent to the server; go to the page that checks
    them in the browser."""
    return RedirectResponse("/verify", status_code=303)


# The verifier library without the page UI (web/verifier/src/lib.js, built by `make setup`), for
# the share page's live check.
VERIFIER_LIB: Final = ARTIFACT_DIR / "verifier-lib.js"


@lru_cache(maxsize=4)
def _asset_version(path: str, mtime_ns: int, size: int) -> str:
    """A digest of the file's bytes, computed once per (path, mtime, size): the cache-busting
    ``?v=`` of the asset's address."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _verifier_lib_version() -> str | None:
    try:
        st = VERIFIER_LIB.stat()
    except OSError:
        return None
    return _asset_version(str(VERIFIER_LIB), st.st_mtime_ns, st.st_size)


@router.get("/assets/verifier.js")
def verifier_script(v: str | None = None) -> Response:
    """The verifier library (``window.credentialRegistry``) for the share page's live check.
    Cached for a year when asked by its current version (``?v=``, which pages link to)."""
    version = _verifier_lib_version()
    if version is None:
        return Response(
            "the verifier library is not built on this server: run `make setup` "
            "(it bundles web/verifier/ into registry/artifacts/verifier-lib.js)\n",
            status_code=503,
            media_type="text/plain",
            headers={"Cache-Control": "no-store"},
        )
    cache = "public, max-age=31536000, immutable" if v == version else "public, max-age=3600"
    return FileResponse(VERIFIER_LIB, media_type="application/javascript", headers={"Cache-Control": cache})


def _live_labels(lang: str) -> dict[str, Any]:
    """The words of the share page's live check (static/share-live.js), in the page's language."""
    t = locales.translations(lang)
    return {
        "checking": t.gettext("Checking on the blockchain…"),
        "result": t.gettext("Result now:"),
        "verdicts": {
            "VALID": t.pgettext("verdict", "VALID"),
            "INVALID": t.pgettext("verdict", "INVALID"),
            "INDETERMINATE": t.pgettext("verdict", "INDETERMINATE"),
        },
        "summaries": {
            "VALID": t.gettext("The blockchain confirms this credential now: every check passed."),
            "INVALID": t.gettext("A check failed: this credential does not verify now."),
            "INDETERMINATE": t.gettext("Some checks could not be completed now; none failed."),
        },
        "statuses": {
            "pass": t.gettext("pass"),
            "fail": t.gettext("fail"),
            "indeterminate": t.gettext("indeterminate"),
        },
        "checks": check_labels(t),
        "checkedAt": t.gettext("Checked at"),
        "unavailable": t.gettext("Live check unavailable: %(reason)s"),
        "downloadFailed": t.gettext("the credential file could not be downloaded (%(status)s)."),
        "failed": t.gettext("the verifier stopped: %(error)s"),
        "noLibrary": t.gettext("the verifier script did not load."),
        "reasons": reason_table(lang),
    }


def _live_check(state: ServiceState, lang: str, credential_id: str) -> dict[str, Any]:
    """What the share page needs for its live check: the script's configuration (the RPC and
    the registries the ``/verify`` page offers, the words) or, when it cannot run, why."""
    _ = locales.translator(lang)
    rpc = state.settings.public_rpc()  # never the service's own provider URL (it may carry a key)
    version = _verifier_lib_version()
    if rpc is None:
        return {
            "unavailable": _(
                "this server publishes no public blockchain RPC address. Check the file on the "
                "verify page with an RPC address of your choice."
            )
        }
    if version is None:
        return {"unavailable": _("the verifier is not built on this server.")}
    trusted = _verifier_trust(state)
    return {
        "script": f"/assets/verifier.js?v={version}",
        "config": {
            "rpc": rpc,
            "trustedRegistries": [
                {"chainId": chain_id, "address": address, "source": source}
                for chain_id, entries in sorted(trusted.items())
                for address, source in entries.items()
            ],
            "credentialUrl": f"/c/{credential_id}/credential.json",
            "lang": lang,
            "labels": _live_labels(lang),
        },
    }


def _linkedin(cred: dict[str, Any], url: str, cert_id: str, organization_id: str | None = None) -> str:
    """LinkedIn's add-to-profile address: the issuer's LinkedIn page (``organizationId``) when
    its profile names one, else its name (``organizationName``)."""
    issued = str(cred.get("validFrom", ""))
    params: dict[str, str] = {"startTask": "CERTIFICATION_NAME", "name": str(cred.get("name", ""))}
    if organization_id and LINKEDIN_ORG.fullmatch(organization_id):
        params["organizationId"] = organization_id
    else:
        params["organizationName"] = str((cred.get("issuer") or {}).get("name", ""))
    params["certUrl"] = url
    params["certId"] = cert_id
    try:
        when = datetime.fromisoformat(issued.replace("Z", "+00:00"))
        params["issueYear"] = str(when.year)
        params["issueMonth"] = str(when.month)
    except ValueError:
        pass
    valid_until = cred.get("validUntil")
    if isinstance(valid_until, str):
        try:
            until = datetime.fromisoformat(valid_until.replace("Z", "+00:00"))
            params["expirationYear"] = str(until.year)
            params["expirationMonth"] = str(until.month)
        except ValueError:
            pass
    return "https://www.linkedin.com/profile/add?" + urlencode(params)


@router.get("/c/{credential_id}", response_class=HTMLResponse)
def share(request: Request, credential_id: str, session: SessionDep, state: StateDep) -> HTMLResponse:
    """The credential for a person to read, with downloads, a QR code and a LinkedIn link; and its
    live check: the visitor's browser verifies the file against the chain (static/share-live.js)."""
    try:
        row = get_credential(session, None, credential_id)
        data = credential_file(session, row)
    except NotFound:
        return render(
            request,
            "message.html",
            404,
            title="Credential not found",
            message="There is no credential at this address. Check the link.",
        )
    except Conflict:
        return render(
            request,
            "message.html",
            409,
            title="Not available yet",
            message=(
                "This credential is being anchored on the blockchain. "
                "Its page appears once the anchor is confirmed; try again in a few minutes."
            ),
        )
    url = f"{state.settings.public_url.rstrip('/')}/c/{row.id}"
    accredited_by = _accreditation_of(state, data.get("issuer", {}))
    lang = page_language(request)
    _ = locales.translator(lang)
    issuer = session.get(Issuer, row.issuer_id)
    qr = segno.make(url, error="m").svg_inline(scale=4, dark="#111", light="#fff", title=_("QR code of %s") % url)
    proof = data["proof"][-1]  # the anchor proof is the last of the set (formats v1 and v2)
    subject = data.get("credentialSubject", {})
    return render(
        request,
        "share.html",
        cred=data,
        subject=subject,
        achievement=subject.get("achievement", {}),
        eu=eu_elements(subject.get("achievement", {})),
        proof=proof,
        url=url,
        qr=qr,
        linkedin=_linkedin(data, url, data.get("id", row.id), issuer.linkedin_organization_id if issuer else None),
        live=_live_check(state, lang, row.id),
        revoked=row.state == CredentialState.REVOKED,
        row=row,
        accredited_by=accredited_by,
        pathways=_pathways_of(session, subject, data.get("issuer")),
    )


def _pathways_of(session: SessionDep, subject: Any, issuer: Any) -> list[PathwayRow]:
    """Published pathways this credential counts toward (for links to the learner's progress)."""
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    ach_id = achievement.get("id") if isinstance(achievement, dict) else None
    did = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not isinstance(ach_id, str) or not isinstance(did, str):
        return []
    try:
        return pathways_for_achievement(session, ach_id, did)
    except RegistryError:
        return []


def _accreditation_of(state: ServiceState, issuer: Any) -> dict[str, str] | None:
    """The accreditation body that admitted the credential's issuer, from the chain's directory
    (cached): name and DID when it has an entry, else its address; None when the chain is down."""
    did = issuer.get("id") if isinstance(issuer, dict) else None
    try:
        entries, bodies = state.issuer_directory(max_age=60.0)
    except RegistryError:
        return None
    for entry in entries:
        if entry.did == did:
            body = bodies.get(entry.admitted_by)
            if body is not None and body.named:
                return {"name": body.name, "uri": body.uri, "address": body.address}
            return {"name": "", "uri": "", "address": entry.admitted_by}
    return None


@router.get("/c/{credential_id}/credential.{fmt}")
def share_download(credential_id: str, fmt: str, session: SessionDep) -> Response:
    if fmt not in ("json", "png", "svg"):
        return Response("unknown format", status_code=404)
    try:
        row = get_credential(session, None, credential_id)
        return file_response(session, row, fmt)
    except NotFound:
        return Response("not found", status_code=404)
    except Conflict:
        # Public: say no more than "not yet" (not the issuance state of an unreleased credential).
        return Response("not released yet: the credential is being anchored", status_code=409)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, issuer: PageIssuer, session: SessionDep, state: StateDep) -> HTMLResponse:
    """Batches of the signed-in issuer with their states, counts and transaction links; the
    latest credentials with their lineage (what each replaces, what replaces it)."""
    if issuer is None:
        return render(request, "login.html")
    assert issuer.id is not None
    batches = [
        BatchOut.of(b, state.settings.explorer_tx_url)
        for b in session.exec(
            select(Batch).where(Batch.issuer_id == issuer.id).order_by(col(Batch.id).desc()).limit(200)
        )
    ]
    counts = batch_counts(session, issuer.id)
    recent = list(
        session.exec(
            select(CredentialRow)
            .where(CredentialRow.issuer_id == issuer.id)
            .order_by(col(CredentialRow.seq).desc())
            .limit(10)
        )
    )
    hooks = [
        delivery_view(d)
        for d in session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.issuer_id == issuer.id)
            .order_by(col(WebhookDelivery.id).desc())
            .limit(20)
        )
    ]
    return render(
        request,
        "dashboard.html",
        issuer=issuer,
        batches=batches,
        counts=counts,
        labels=STATE_LABELS,
        recent=recent,
        lineage=lineage_of(session, [c.id for c in recent]),
        hooks=hooks,
    )


@router.post("/dashboard/login")
def login(request: Request, session: SessionDep, api_key: Annotated[str, Form()] = "") -> Response:
    ttl = 8 * 3600
    try:
        _, value = open_page_session(session, api_key, ttl=ttl)
    except AuthenticationError as exc:
        return render(request, "login.html", 401, error=str(exc))
    response = RedirectResponse("/dashboard", status_code=303)
    secure = request.url.scheme == "https"
    # The cookie holds a signed, expiring session naming the key, never the API key itself.
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="strict", secure=secure, max_age=ttl)
    return response


@router.post("/dashboard/logout")
def logout() -> Response:
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


_ = json
