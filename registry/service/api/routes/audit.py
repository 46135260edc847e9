"""Audit endpoints and page: the auditor run by the service against its own chain and database.

``GET /v1/audit`` (JSON report), ``GET /v1/audit.csv`` (findings), ``GET /v1/audit/report.html``
(the self-contained report file) and the page ``GET /audit``. The service reconciles the chain
with its own database; the history is cached in ``<data dir>/audit.sqlite`` so a request after
the first reads only new blocks, and a finished report is reused for a few seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from registry.audit.auditor import Auditor
from registry.audit.cache import AuditCache
from registry.audit.render import install_filters, render_csv, render_html, report_context, template_loader
from registry.audit.report import AuditReport
from registry.config import load_deployment
from registry.errors import DeploymentError
from registry.service.api.deps import StateDep
from registry.service.api.routes.pages import i18n_context, localize_response
from registry.service.audit_records import ServiceDatabase

__all__ = ["router"]

router = APIRouter(tags=["audit"])
_PAGES = Path(__file__).resolve().parent.parent / "templates"
# audit.html extends the service's layout and includes the audit's own templates.
_loader = ChoiceLoader([FileSystemLoader(_PAGES), template_loader()])
templates = Jinja2Templates(
    env=Environment(loader=_loader, autoescape=select_autoescape(), extensions=["jinja2.ext.i18n"])
)
templates.env.install_null_translations()  # type: ignore[attr-defined]
install_filters(templates.env)

REUSE_SECONDS = 10.0
_lock = threading.Lock()
_reports: dict[tuple[int, str | None], tuple[float, AuditReport]] = {}

IssuerQuery = Annotated[
    str | None, Query(description="only this issuer: id, DID or any of its key addresses", max_length=200)
]


def run_audit(state: Any, issuer: str | None) -> AuditReport:
    """Audit the service's registry with its database (one run at a time; recent runs reused)."""
    key = (id(state), issuer or None)
    with _lock:
        hit = _reports.get(key)
        if hit is not None and time.monotonic() - hit[0] < REUSE_SECONDS:
            return hit[1]
        client = state.chain()
        try:
            start = int(load_deployment(state.settings, client.reads.chain_id()).get("block") or 0)
        except DeploymentError:
            start = 0
        cache = AuditCache(f"sqlite:///{state.settings.data_dir / 'audit.sqlite'}")
        records = ServiceDatabase(engine=state.engine)
        try:
            report = Auditor(client, cache, from_block=start).run(issuer=issuer, records=records)
        finally:
            cache.close()
        _reports[key] = (time.monotonic(), report)
        return report


@router.get("/v1/audit", response_model=AuditReport, summary="Audit report of the registry (JSON)")
def audit_json(state: StateDep, issuer: IssuerQuery = None) -> AuditReport:
    return run_audit(state, issuer)


@router.get("/v1/audit.csv", response_class=PlainTextResponse, summary="Audit findings as CSV")
def audit_csv(state: StateDep, issuer: IssuerQuery = None) -> Response:
    text = render_csv(run_audit(state, issuer))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-findings.csv"'},
    )


@router.get("/v1/audit/report.html", response_class=HTMLResponse, summary="Self-contained HTML audit report")
def audit_report_file(state: StateDep, issuer: IssuerQuery = None) -> Response:
    html = render_html(run_audit(state, issuer))
    return HTMLResponse(html, headers={"Content-Disposition": 'attachment; filename="audit-report.html"'})


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, state: StateDep, issuer: IssuerQuery = None) -> HTMLResponse:
    report = run_audit(state, issuer)
    # The page's frame (layout, links, form) follows the language switch; the report body
    # (registry.audit's templates, also the downloadable file) stays English.
    extra = i18n_context(request)
    response = templates.TemplateResponse(request, "audit.html", {**report_context(report), **extra})
    localize_response(request, response, extra["lang"])
    return response
