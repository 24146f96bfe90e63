"""The OpenAPI description: valid, complete for the partner API, browsable offline; and
schemathesis generating requests from it against the real stack, which must never answer 5xx."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.cache import cache
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ticketing.wsgi import application

PARTNER_OPERATIONS = {
    ("/api/v1/payments/", "post"),
    ("/api/v1/payments/{payment_id}/", "get"),
    ("/api/v1/payments/{payment_id}/cancel/", "post"),
    ("/api/v1/payments/{payment_id}/refunds/", "get"),
    ("/api/v1/payments/{payment_id}/refunds/", "post"),
    ("/api/v1/payments/{payment_id}/refunds/{refund_id}/", "get"),
}
MONEY_MOVING = {op for op in PARTNER_OPERATIONS if op[1] == "post"}


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi(openapi):
    validate_schema(openapi)  # raises on any violation of the OpenAPI 3 JSON schema
    assert openapi["openapi"].startswith("3.")


def test_schema_documents_the_partner_api(openapi):
    operations = {(path, method) for path, item in openapi["paths"].items() for method in item}
    assert operations >= PARTNER_OPERATIONS
    scheme = openapi["components"]["securitySchemes"]["TerminalToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    for path, method in PARTNER_OPERATIONS:
        operation = openapi["paths"][path][method]
        assert operation["security"] == [{"TerminalToken": []}], (path, method)
        assert {"401", "404"} <= set(operation["responses"]), (path, method)
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        if (path, method) in MONEY_MOVING:
            assert headers["Idempotency-Key"]["required"] is True
            assert {"400", "409"} <= set(operation["responses"])
    create = openapi["components"]["schemas"]["PaymentCreateRequest"]
    assert set(create["required"]) == {"amount", "currency", "description", "buyer_code"}
    pattern = create["properties"]["amount"]["pattern"]
    for bad in ["", ".", "1e3", "-1", "1.234", "01"]:
        assert not re.search(pattern, bad), bad
    for good in ["0.01", "12.50", "1200", "100000000"]:
        assert re.search(pattern, good), good


def test_docs_page_renders_from_our_own_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    # Offline box offices: nothing from a CDN, the sidecar's files from our static URL.
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
    assets = set(re.findall(r"/static/(drf_spectacular_sidecar/[^\"']+)", page))
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui.css", "swagger-ui-bundle.js"}
    for asset in assets:
        assert finders.find(asset), asset  # shipped with the site, collected by collectstatic


# --- schemathesis: generated requests through the whole WSGI stack, sandbox behind it ----------
def _both_modes() -> schemathesis.Config:
    """Valid requests (they reach the sandbox) and invalid ones (they must be refused with 4xx)."""
    config = schemathesis.Config()
    config.projects.default.generation.update(modes=list(schemathesis.GenerationMode))
    return config


schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=_both_modes()).include(
    path_regex=r"^/api/v1/payments/"
)


@pytest.fixture
def partner_headers(alipay_gateway, terminal_token, clock) -> dict:
    cache.clear()  # throttle counters from other tests
    return {"Authorization": f"Token {terminal_token[1]}"}


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_partner_api_never_answers_5xx(case, partner_headers):
    case.call_and_validate(
        headers=partner_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
