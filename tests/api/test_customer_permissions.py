from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


def give(customer, *purposes):
    return record_choices(
        customer=customer,
        choices=[make_choice(p) for p in purposes],
        provenance=Provenance(source="web", actor="customer"),
    )


def url(customer):
    return f"/api/v1/customers/{customer.external_id}/permissions"


def test_it_answers_the_current_permission_document(catalog, api):
    customer = CustomerFactory()
    recorded = give(customer, "channel:sms")
    body = api.get(url(customer)).json()
    assert body["external_id"] == customer.external_id
    assert body["version"] == recorded.document.version
    assert body["permissions"] == recorded.document.body
    assert body["permissions"]["channels"]["sms"]["allowed"] is True


def test_a_customer_who_never_chose_gets_version_0_allowing_nothing(catalog, api):
    body = api.get(url(CustomerFactory())).json()
    assert body["version"] == 0
    assert not any(channel["allowed"] for channel in body["permissions"]["channels"].values())


def test_it_answers_in_one_query_once_the_key_is_known(catalog, api):
    customer = CustomerFactory()
    give(customer, "channel:sms")
    api.get(url(customer))  # checks the key and notes its use (at most once a minute)
    with CaptureQueriesContext(connection) as queries:
        api.get(url(customer))
    assert len(queries) == 1  # the customer with snapshot and document


def test_it_sends_an_etag_and_answers_304_when_it_matches(catalog, api):
    customer = CustomerFactory()
    give(customer, "channel:sms")
    etag = api.get(url(customer))["ETag"]
    response = api.get(url(customer), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""


def test_a_new_version_changes_the_etag(catalog, api):
    customer = CustomerFactory()
    give(customer, "channel:sms")
    etag = api.get(url(customer))["ETag"]
    give(customer, "channel:push")
    assert api.get(url(customer), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_an_unknown_customer_is_a_404_problem(catalog, api):
    response = api.get("/api/v1/customers/nobody/permissions")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_at_a_past_time_it_answers_from_the_ledger(catalog, api):
    customer = CustomerFactory()
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        give(customer, "channel:sms")
    then = timezone.now() - timedelta(days=1)
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    body = api.get(url(customer), {"at": then.isoformat()}).json()
    assert body["permissions"]["channels"]["sms"]["allowed"] is True
    assert api.get(url(customer)).json()["permissions"]["channels"]["sms"]["allowed"] is False


def test_at_a_time_before_any_choice_nothing_was_allowed(catalog, api):
    customer = CustomerFactory()
    give(customer, "channel:sms")
    body = api.get(url(customer), {"at": "2001-01-01T00:00:00Z"}).json()
    assert body["permissions"]["channels"]["sms"]["allowed"] is False
    assert body["derived_from"] == []


def test_at_in_the_future_is_a_400_naming_the_field(catalog, api):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    response = api.get(url(CustomerFactory()), {"at": future})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/at"
