"""schemathesis against the OpenAPI schema, over WSGI, with a valid key and seeded data: no 5xx, and every
response (status, content type, headers, body) conforms to the schema."""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from config.wsgi import application
from tests.factories import CustomerFactory, make_choice

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@schemathesis.serializer("application/x-ndjson")
def ndjson(_context, value):
    """The consents batch's lines, one JSON value a line (schemathesis skipped the media type it cannot write)."""
    lines = value if isinstance(value, list) else [value]
    return {"data": "".join(json.dumps(line) + "\n" for line in lines).encode()}


@pytest.fixture
def keep_the_test_connection():
    """Requests through the WSGI app would close the connection that holds the test's transaction (Django's
    test client does the same as this while it makes a request)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded_key(keep_the_test_connection, catalog, make_api, settings):
    """The catalog, customers with history (one under the schema's example id), and a key with every scope."""
    settings.API_RATE_LIMIT = "100000/min"
    for external_id in ("crm-12345", None):
        customer = CustomerFactory(**({"external_id": external_id} if external_id else {}))
        record_choices(
            customer=customer,
            choices=[make_choice("channel:sms"), make_choice("location", value={"level": "city"})],
            provenance=Provenance(source="web", actor="customer"),
        )
    return make_api().raw_key


@schema.parametrize()
@settings(
    # Schema-valid and schema-violating data both (schemathesis' default modes); 100 per operation keeps the
    # whole file near a minute on a quiet machine. Calendar-edge cursors and deeply nested bodies, which random
    # data hardly reaches, have their own tests (tests/api/test_errors.py).
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_keeps_to_its_schema(case, seeded_key):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {seeded_key}"},
        # Business rules the schema cannot state (a future `at`, a phone that is not E.164, an opaque cursor)
        # answer 400 to schema-valid data, and a blank query parameter counts as absent (DRF's form rule):
        # those two heuristics are left out. Every other check runs, including no 5xx and conformance.
        excluded_checks=[checks.positive_data_acceptance, checks.negative_data_rejection],
    )
