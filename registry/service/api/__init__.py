"""The issuer service's web layer: REST API, public verify API and server-rendered pages."""

from registry.service.api.app import create_app, prepare

__all__ = ["create_app", "prepare"]
