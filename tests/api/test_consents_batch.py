import json

import pytest

from apps.consent.models import ConsentEvent
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded
URL = "/api/v1/consents:batch"


def line(line_id, customer, purpose="channel:sms", state="given", **extra):
    version = make_choice(purpose, state).notice_version_id
    return {
        "id": line_id,
        "external_id": customer.external_id,
        "choices": [{"purpose": purpose, "state": state, "notice_version": version}],
        **extra,
    }


def post(http, lines):
    return http.post(URL, {"lines": lines}, format="json")


def test_each_line_is_recorded_and_answered_on_its_own(catalog, api):
    ada, bob = CustomerFactory(), CustomerFactory()
    bob_line = line("l-2", bob)
    bob_line["choices"][0]["purpose"] = "channel:nope"

    response = post(api, [line("l-1", ada), bob_line, line("l-3", CustomerFactory.build())])

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        ("l-1", "applied"),
        ("l-2", "rejected"),
        ("l-3", "rejected"),
    ]
    assert results[1]["problem"]["errors"][0]["pointer"] == "#/choices/0"
    assert results[2]["problem"]["status"] == 404
    assert list(ConsentEvent.objects.values_list("customer_id", flat=True)) == [ada.pk]


def test_a_line_captured_before_a_later_withdrawal_is_answered_history_only(catalog, api):
    customer = CustomerFactory()
    post(api, [line("w", customer, state="withdrawn")])

    response = post(api, [line("old", customer, captured_at="2024-01-01T00:00:00Z")])

    assert response.json()["results"][0]["status"] == "history_only"


def test_a_line_sent_again_with_the_same_id_records_once(catalog, api):
    customer = CustomerFactory()
    first = post(api, [line("l-1", customer)])
    again = post(api, [line("l-1", customer)])
    assert ConsentEvent.objects.filter(customer=customer).count() == 1
    assert again.json()["results"][0] == first.json()["results"][0]


def test_ndjson_lines_are_accepted(catalog, api):
    customers = CustomerFactory.create_batch(3)
    body = "\n".join(json.dumps(line(f"n-{c.pk}", c)) for c in customers) + "\n"

    response = api.post(URL, body, content_type="application/x-ndjson")

    assert [r["status"] for r in response.json()["results"]] == ["applied"] * 3


def test_more_than_a_thousand_lines_is_a_400_and_writes_nothing(catalog, api):
    customer = CustomerFactory()
    response = post(api, [line(f"l-{n}", customer) for n in range(1001)])
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/lines"
    assert not ConsentEvent.objects.exists()


def test_a_key_without_the_consents_write_scope_is_refused(catalog, make_api):
    http = make_api(scopes=["consents:read"])
    assert post(http, [line("l-1", CustomerFactory())]).status_code == 403


def test_a_caller_without_a_key_is_refused(catalog, client):
    assert client.post(URL, {"lines": []}, content_type="application/json").status_code == 401
