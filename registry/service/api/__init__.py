"""The issuer service's web layer: REST API, public verify API and server-rendered pages.

Wired to the database, the chain and the anchoring worker by :mod:`registry.service.runtime`."""

from registry.service.api.app import create_api
from registry.service.api.state import ServiceState

__all__ = ["ServiceState", "create_api"]
