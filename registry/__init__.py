"""Blockchain-anchored credential registry for micro-credentials (Open Badges 3.0)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
