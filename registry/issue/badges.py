"""Default badge images (a medal with the achievement and issuer names), PNG and SVG.

Rendering is presentation, not part of the credential format, so it lives outside the pure core:
:mod:`registry.core.baking` bakes a credential into whatever image it is given.
"""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from registry.core.baking import badge_names, bake_png, bake_svg

__all__ = ["badge_image_png", "badge_image_svg", "baked_png", "baked_svg"]


@lru_cache(maxsize=64)
def _default_png(name: str, issuer: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    fig = Figure(figsize=(3.2, 3.2), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.add_patch(Circle((0.5, 0.5), 0.48, color="#1f3a5f"))
    ax.add_patch(Circle((0.5, 0.5), 0.43, color="#f5f1e6"))
    ax.add_patch(Circle((0.5, 0.5), 0.43, fill=False, color="#c9a227", linewidth=3))
    title = "\n".join(textwrap.wrap(name, 18)[:4]) or "Credential"
    centred: dict[str, Any] = {"ha": "center", "va": "center"}
    ax.text(0.5, 0.56, title, fontsize=13, fontweight="bold", color="#1f3a5f", wrap=False, **centred)
    if issuer:
        ax.text(0.5, 0.22, "\n".join(textwrap.wrap(issuer, 26)[:2]), fontsize=8.5, color="#333333", **centred)
    ax.text(0.5, 0.86, "VERIFIED CREDENTIAL", fontsize=7, color="#c9a227", fontweight="bold", **centred)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", transparent=True)
    return buf.getvalue()


def badge_image_png(credential: dict[str, Any]) -> bytes:
    """A plain default badge (320×320 PNG): achievement name and issuer name on a medal."""
    return _default_png(*badge_names(credential))


def badge_image_svg(credential: dict[str, Any]) -> str:
    """The SVG counterpart of :func:`badge_image_png` (text, no embedded fonts)."""
    name, issuer = badge_names(credential)
    lines = textwrap.wrap(name, 20)[:4] or ["Credential"]
    start = 160 - (len(lines) - 1) * 11
    title = "".join(f'<tspan x="160" y="{start + 22 * i}">{escape(line)}</tspan>' for i, line in enumerate(lines))
    issuer_text = escape(issuer[:60])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320" '
        f'role="img" aria-label="{escape(name, {chr(34): "&quot;"})}">'
        '<circle cx="160" cy="160" r="154" fill="#1f3a5f"/>'
        '<circle cx="160" cy="160" r="138" fill="#f5f1e6" stroke="#c9a227" stroke-width="3"/>'
        '<text x="160" y="48" text-anchor="middle" font-family="sans-serif" font-size="10" '
        'font-weight="bold" fill="#c9a227">VERIFIED CREDENTIAL</text>'
        '<text text-anchor="middle" font-family="sans-serif" font-size="17" font-weight="bold" '
        f'fill="#1f3a5f">{title}</text>'
        '<text x="160" y="250" text-anchor="middle" font-family="sans-serif" font-size="11" '
        f'fill="#333">{issuer_text}</text>'
        "</svg>"
    )


def baked_png(credential: dict[str, Any]) -> bytes:
    """The credential baked into its default PNG badge."""
    return bake_png(credential, badge_image_png(credential))


def baked_svg(credential: dict[str, Any]) -> str:
    """The credential baked into its default SVG badge."""
    return bake_svg(credential, badge_image_svg(credential))
