"""Audit report outputs: a terminal table, JSON, CSV (one row per finding) and one HTML file, and
the lineages as plain text (:func:`render_lineages`).

The HTML report is self-contained and readable offline: inline CSS, charts drawn with
matplotlib and embedded as inline SVG, no scripts, fonts or images fetched from anywhere. Its
templates live in ``registry/audit/templates`` (:func:`template_loader`); the service's audit
page extends its own layout and includes ``_audit_style.html`` and ``_audit_body.html`` from there.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from jinja2 import BaseLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from registry.audit.report import AuditReport, Severity, short_hex

__all__ = [
    "FORMATS",
    "anchoring_chart",
    "install_filters",
    "render",
    "render_csv",
    "render_html",
    "render_json",
    "render_lineages",
    "report_context",
    "revocation_chart",
    "template_loader",
]

FORMATS: Final = ("table", "json", "csv", "html")
TIMELINE_LIMIT: Final = 300
_COLOURS: Final = ["#1f3a5f", "#c9a227", "#4e8f6f", "#a3473c", "#6b5b95", "#3b8ea5", "#8c6d46", "#555555"]


def render_json(report: AuditReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


def render_csv(report: AuditReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["severity", "code", "check", "issuer_id", "issuer", "root", "tx", "block", "at", "title", "message"]
    )
    for f in report.findings:
        writer.writerow(
            [
                f.severity.value,
                f.code,
                f.check,
                f.issuer_id or "",
                f.issuer or "",
                f.root or "",
                f.tx or "",
                f.block if f.block is not None else "",
                f.at or "",
                f.title,
                f.message,
            ]
        )
    return out.getvalue()


def render_lineages(report: AuditReport) -> str:
    """The issuers' lineages as plain text for a terminal: each line's path, then one row per step
    (when, block, key, superseded digest -> successor id, kind); empty when nothing was superseded."""
    out: list[str] = []
    for issuer in report.issuers:
        for line in issuer.lineages:
            end = "  [ends in a revoked credential]" if line.current_revoked else ""
            out.append(f"{issuer.name} (issuer {issuer.issuer_id}): {line.path}{end}")
            out += [
                f"  {s.at} block {s.block} key {s.key or 'unknown'}: {short_hex(s.digest)} -> {s.new_id} "
                f"({s.kind_name})"
                for s in line.steps
            ]
    return "".join(f"{row}\n" for row in out)


def _day(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)


def _svg(fig: Any) -> Markup:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    start = text.find("<svg")
    return Markup(text[start:] if start >= 0 else text)


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "credreg-audit"
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def anchoring_chart(report: AuditReport) -> Markup | None:
    """Credentials anchored per day, one stacked colour per issuer."""
    if not report.batches:
        return None

    names = {i.issuer_id: i.name for i in report.issuers}
    per: dict[int, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for b in report.batches:
        per[b.issuer_id][_day(b.timestamp)] += b.count
    days = sorted({d for series in per.values() for d in series})
    fig, ax = _figure()
    bottom = [0] * len(days)
    for n, (iid, series) in enumerate(sorted(per.items())):
        values = [series.get(d, 0) for d in days]
        ax.bar(
            days,
            values,
            bottom=bottom,
            width=0.8,
            color=_COLOURS[n % len(_COLOURS)],
            label=names.get(iid, f"issuer {iid}"),
        )
        bottom = [a + b for a, b in zip(bottom, values, strict=True)]
    ax.set_ylabel("credentials anchored")
    ax.set_title("Credentials anchored per day, by issuer", fontsize=11, loc="left")
    # One tick per day with data (a date locator would repeat a lone day on every tick).
    ax.set_xticks(days, [d.strftime("%Y-%m-%d") for d in days])
    if len(days) < 4:  # keep single bars from filling the whole axis
        pad = timedelta(days=2)
        ax.set_xlim(days[0] - pad, days[-1] + pad)
    ax.legend(frameon=False, fontsize=8)
    fig.autofmt_xdate()
    return _svg(fig)


def revocation_chart(report: AuditReport) -> Markup | None:
    """Revoked credentials over time (single revocations, supersessions and whole batches), cumulative."""
    events: list[tuple[int, int, str]] = [(r["timestamp"], 1, "credential") for r in report.credential_revocations]
    events += [(s.timestamp, 1, "superseded") for s in report.supersessions]
    events += [(b.revoked_at, b.count, "batch") for b in report.batches if b.revoked_at]
    if not events:
        return None
    import matplotlib.dates as mdates

    events.sort()
    fig, ax = _figure()
    start = datetime.fromtimestamp(events[0][0], UTC).replace(tzinfo=None)
    end = datetime.fromtimestamp(events[-1][0], UTC).replace(tzinfo=None)
    series = (
        ("credential", "#a3473c", "single credentials"),
        ("superseded", "#4e8f6f", "superseded (corrected or renewed)"),
        ("batch", "#1f3a5f", "whole batches"),
    )
    for kind, colour, label in series:
        total = 0
        xs: list[datetime] = [start]
        ys: list[int] = [0]
        for ts, n, k in events:
            if k == kind:
                total += n
                xs.append(datetime.fromtimestamp(ts, UTC).replace(tzinfo=None))
                ys.append(total)
        if total:
            ax.step([*xs, end], [*ys, total], where="post", color=colour, label=f"{label} ({total})", linewidth=2)
            ax.plot(xs[1:], ys[1:], "o", color=colour, markersize=4)
    ax.set_ylabel("credentials revoked (cumulative)")
    ax.set_title("Revocations over time", fontsize=11, loc="left")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d %H:%M"))  # type: ignore[no-untyped-call]
    ax.legend(frameon=False, fontsize=8)
    fig.autofmt_xdate()
    return _svg(fig)


def install_filters(env: Environment) -> Environment:
    """The template filters the audit templates use (``short`` hashes, ``when`` timestamps)."""
    env.filters["short"] = lambda v, n=10: v if not v or len(v) <= n + 4 else f"{v[:n]}…{v[-4:]}"
    env.filters["when"] = lambda ts: datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "—"
    return env


def template_loader() -> BaseLoader:
    """The loader of the audit templates (``audit_report.html``, ``_audit_body.html``, ``_audit_style.html``)."""
    return PackageLoader("registry.audit", "templates")


def _env() -> Environment:
    return install_filters(Environment(loader=template_loader(), autoescape=select_autoescape(["html"])))


def report_context(report: AuditReport) -> dict[str, Any]:
    """What the HTML templates need (shared by the CLI report and the service's audit page)."""
    return {
        "report": report,
        "counts": {s.value: report.count(s) for s in Severity},
        "anchoring_chart": anchoring_chart(report),
        "revocation_chart": revocation_chart(report),
        "timeline_limit": TIMELINE_LIMIT,
        "credentials": sum(b.count for b in report.batches),
        "body_names": {b.address: b.name for b in report.accreditors if b.name},
    }


def render_html(report: AuditReport) -> str:
    """One self-contained HTML file: summary, findings, charts, per-issuer timelines."""
    return _env().get_template("audit_report.html").render(**report_context(report))


def render(report: AuditReport, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        return render_html(report)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
