"""schemathesis against the public booking API: generated requests, valid and invalid, through the
whole WSGI stack; never a 5xx, and every answer documented by the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ticketing.wsgi import application


def _both_modes() -> schemathesis.Config:
    config = schemathesis.Config()
    config.projects.default.generation.update(modes=list(schemathesis.GenerationMode))
    return config


schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=_both_modes()).include(
    path_regex=r"^/api/v1/(attractions|orders)/"
)


@pytest.fixture
def catalogue(transactional_db, booking, clock):
    cache.clear()  # throttle counters from other tests
    booking.slot(capacity=5)
    return booking


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_booking_api_never_answers_5xx_and_keeps_to_its_schema(case, catalogue):
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
