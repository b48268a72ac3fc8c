"""Every answer under /api/ that is an error is application/problem+json: bad input a 400 that says why,
and whatever Django answers itself (an unknown path, an unhandled exception) a problem document too."""

import base64
import json

import pytest
from django.test import Client

from tests.factories import CustomerFactory

pytestmark = pytest.mark.embedded


def cursor(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def nested(depth: int):
    return "[" * depth + "]" * depth


def assert_problem(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["type"]) == (status, "about:blank")
    return body


@pytest.mark.parametrize("edge", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_a_cursor_at_the_edge_of_the_calendar_is_a_400_not_an_overflow(catalog, api, edge):
    response = api.get(
        "/api/v1/permissions", {"updated_since": "2026-01-01T00:00:00Z", "cursor": cursor(edge, 1)}
    )
    body = assert_problem(response, 400)
    assert body["errors"] == [{"pointer": "#/cursor", "detail": "Not a cursor this API gave out."}]


@pytest.mark.parametrize("depth", [100_000, 40])
def test_a_body_nested_too_deeply_is_a_400_and_writes_nothing(catalog, api, depth):
    """100,000 levels stop Python's decoder (RecursionError); 40 parse, and are refused all the same."""
    customer = CustomerFactory(external_id="crm-1")
    response = api.post("/api/v1/customers/crm-1/consents", nested(depth), content_type="application/json")
    body = assert_problem(response, 400)
    assert body["detail"] == "JSON parse error - nested deeper than 32 levels."
    assert not customer.consent_events.exists()


def test_an_unknown_path_under_the_api_is_a_problem_document(api):
    body = assert_problem(api.get("/api/v1/no-such-thing"), 404)
    assert body["title"] == "Not Found"


def test_an_unhandled_exception_under_the_api_is_a_problem_document(db, settings):
    settings.ROOT_URLCONF = "tests.api.failing_urls"
    body = assert_problem(Client(raise_request_exception=False).get("/api/v1/bug"), 500)
    assert body["title"] == "Internal Server Error"
    assert "a bug" not in json.dumps(body)  # nothing of the exception reaches the client


def test_pages_outside_the_api_keep_their_html_errors(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
