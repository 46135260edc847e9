"""``POST /v1/verify`` reads ``?confirmations=`` itself (registry.service.api.routes.public), not
through FastAPI's dependency machinery: it must accept, refuse and document the parameter exactly
as the declaration it replaces (``Annotated[int, Query(ge=1, le=1000)] = 1``) did."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from starlette.requests import Request

from registry.service.api.errors import install_error_handlers
from registry.service.api.routes import public


def _reference() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/verify")
    def verify(confirmations: Annotated[int, Query(ge=1, le=1000)] = 1) -> dict[str, Any]:
        return {"confirmations": confirmations}

    return app


def _ours() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(public.router)
    return app


BAD = ["0", "1001", "-1", "abc", "", "1.5", "1e3", "+", "٣", "99999999999999999999999", "5x"]
GOOD = ["1", "5", "1000", "007", " 5", "5 ", "+5", "1.0"]


@pytest.mark.parametrize("value", BAD)
def test_a_bad_value_gets_the_same_422(value: str) -> None:
    for query in ({"confirmations": value}, [("confirmations", "5"), ("confirmations", value)]):
        reference = TestClient(_reference()).post("/v1/verify", params=query, content=b"{}")
        ours = TestClient(_ours()).post("/v1/verify", params=query, content=b"{}")
        assert reference.status_code == 422, reference.text
        assert (ours.status_code, ours.json()) == (reference.status_code, reference.json())


@pytest.mark.parametrize("value", GOOD)
def test_a_good_value_is_read_as_the_declaration_read_it(value: str) -> None:
    reference = TestClient(_reference()).post("/v1/verify", params={"confirmations": value})
    assert reference.status_code == 200, reference.text
    seen: list[int] = []
    scope = {"type": "http", "method": "POST", "path": "/v1/verify", "headers": [], "query_string": b""}
    for query in (f"confirmations={value}".encode(), f"confirmations=3&confirmations={value}".encode()):
        seen.append(public._confirmations(Request({**scope, "query_string": query.replace(b" ", b"%20")})))
    assert seen == [reference.json()["confirmations"]] * 2
    assert public._confirmations(Request(scope)) == 1  # absent: the default


def test_the_parameter_is_documented_as_before() -> None:
    reference = _reference().openapi()["paths"]["/v1/verify"]["post"]["parameters"]
    ours = _ours().openapi()["paths"]["/v1/verify"]["post"]["parameters"]
    assert ours == reference
