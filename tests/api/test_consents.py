import json
import threading

import pytest
from django.conf import settings
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.customers.models import EvidenceNote
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


def choice(purpose, state="given", value=None):
    made = make_choice(purpose, state)
    body = {"purpose": purpose, "state": state, "notice_version": made.notice_version_id}
    if value is not None:
        body["value"] = value
    return body


def post(http, customer, *choices, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    url = f"/api/v1/customers/{customer.external_id}/consents"
    return http.post(url, {"choices": list(choices), **extra}, format="json", **headers)


def test_recording_goes_through_the_write_path_as_the_api_client(catalog, api):
    customer = CustomerFactory()
    response = post(api, customer, choice("channel:sms"), evidence={"captured_via": "call_center"})
    assert response.status_code == 201
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.source, event.actor) == ("api", f"api:{api.api_client.name}")
    assert event.evidence == {"captured_via": "call_center"}
    assert response.json()["permissions_changed"] is True


def test_texts_for_an_unverified_number_are_refused_and_nothing_is_written(catalog, api):
    customer = CustomerFactory(phone_verified_at=None)
    response = post(api, customer, choice("channel:sms"), choice("channel:push"))
    assert response.status_code == 400
    assert "verified number" in json.dumps(response.json())
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_email_consent_from_the_api_waits_for_double_opt_in(catalog, api):
    customer = CustomerFactory()
    post(api, customer, choice("channel:email"))
    assert ConsentEvent.objects.get(customer=customer).state == "requested"


def test_a_retry_with_the_same_idempotency_key_records_once_and_replays_the_answer(catalog, api):
    customer = CustomerFactory()
    first = post(api, customer, choice("channel:sms"), key="call-42")
    again = post(api, customer, choice("channel:sms"), key="call-42")
    assert ConsentEvent.objects.filter(customer=customer).count() == 1
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again["Idempotent-Replayed"] == "true"


def test_the_same_idempotency_key_with_a_different_body_is_a_422(catalog, api):
    customer = CustomerFactory()
    post(api, customer, choice("channel:sms"), key="call-42")
    response = post(api, customer, choice("channel:push"), key="call-42")
    assert response.status_code == 422
    assert ConsentEvent.objects.filter(customer=customer).count() == 1


def test_idempotency_keys_belong_to_one_client(catalog, make_api):
    customer = CustomerFactory()
    post(make_api(), customer, choice("channel:sms"), key="same")
    post(make_api(), customer, choice("channel:sms", "withdrawn"), key="same")
    assert ConsentEvent.objects.filter(customer=customer).count() == 2


def test_a_bad_choice_is_a_400_pointing_at_it_and_writes_nothing(catalog, api):
    customer = CustomerFactory()
    response = post(api, customer, choice("channel:sms"), choice("topic:news", value={"channels": ["sms"]}))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [error["pointer"] for error in response.json()["errors"]] == ["#/choices/1"]
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_a_malformed_body_is_a_400_with_a_pointer_per_field(catalog, api):
    response = post(api, CustomerFactory(), {"purpose": "channel:sms", "state": "maybe"})
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert pointers == {"#/choices/0/state", "#/choices/0/notice_version"}


def test_raw_ip_addresses_in_evidence_are_refused(catalog, api):
    response = post(api, CustomerFactory(), choice("channel:sms"), evidence={"ip": "10.0.0.1"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/evidence/ip"


def test_free_text_in_evidence_is_refused_with_a_pointer_and_nothing_is_written(catalog, api):
    customer = CustomerFactory()
    response = post(
        api,
        customer,
        choice("channel:sms"),
        evidence={"captured_via": "call_center", "ticket": "Ada, 0151 123"},
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [error["pointer"] for error in response.json()["errors"]] == ["#/evidence/ticket"]
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_a_note_is_kept_beside_the_ledger_and_only_referenced_from_it(catalog, api):
    customer = CustomerFactory()
    response = post(api, customer, choice("channel:sms"), note="Ticket 123: Ada asked by phone")
    assert response.status_code == 201
    event = ConsentEvent.objects.get(customer=customer)
    note = EvidenceNote.objects.get(customer=customer)
    assert note.text == "Ticket 123: Ada asked by phone"
    assert set(event.evidence) == {"note_id", "note_hash"}
    assert "Ada" not in event.canonical_bytes().decode()


def test_the_history_lists_events_in_order_without_evidence(catalog, api):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms"), make_choice("channel:push")],
        provenance=Provenance(source="web", actor="customer"),
        ip_address="10.0.0.1",
    )
    body = api.get(f"/api/v1/customers/{customer.external_id}/consents").json()
    assert [(e["sequence"], e["purpose"]) for e in body["events"]] == [
        (1, "channel:sms"),
        (2, "channel:push"),
    ]
    assert "evidence" not in body["events"][0]
    assert "hash" not in body["events"][0]


def test_the_history_pages_by_sequence(catalog, api):
    customer = CustomerFactory()
    for state in ("given", "withdrawn", "given"):
        record_choices(
            customer=customer,
            choices=[make_choice("channel:sms", state)],
            provenance=Provenance(source="web", actor="customer"),
        )
    url = f"/api/v1/customers/{customer.external_id}/consents"
    first = api.get(url, {"limit": 2}).json()
    rest = api.get(url, {"limit": 2, "after": first["next_after"]}).json()
    assert [e["sequence"] for e in first["events"]] == [1, 2]
    assert first["has_more"] is True
    assert [e["sequence"] for e in rest["events"]] == [3]
    assert rest["has_more"] is False


# Only PostgreSQL needs (and allows: the ledger's triggers refuse SQLite's flush) a committing test here.
@pytest.mark.django_db(transaction="postgresql" in settings.DATABASES["default"]["ENGINE"])
def test_two_identical_requests_at_once_record_once(catalog, api):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers, so the two cannot overlap")
    customer = CustomerFactory()
    body = {"choices": [choice("channel:sms")]}
    start, answers = threading.Barrier(2), []

    def send():
        http = APIClient()
        http.credentials(HTTP_AUTHORIZATION=f"Bearer {api.raw_key}")
        start.wait()
        answers.append(
            http.post(
                f"/api/v1/customers/{customer.external_id}/consents",
                body,
                format="json",
                HTTP_IDEMPOTENCY_KEY="k1",
            )
        )
        connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert ConsentEvent.objects.filter(customer=customer).count() == 1


def test_consent_captured_earlier_keeps_its_captured_time(catalog, api):
    customer = CustomerFactory()
    response = post(api, customer, choice("channel:sms"), captured_at="2025-06-01T12:00:00+02:00")
    assert response.status_code == 201
    assert response.json()["events"][0]["captured_at"] == "2025-06-01T10:00:00+00:00"
    assert ConsentEvent.objects.get(customer=customer).captured_at.isoformat() == "2025-06-01T10:00:00+00:00"


def test_a_captured_time_in_the_future_is_a_400_pointing_at_it(catalog, api):
    response = post(api, CustomerFactory(), choice("channel:sms"), captured_at="2999-01-01T00:00:00Z")
    assert response.status_code == 400
    assert [error["pointer"] for error in response.json()["errors"]] == ["#/captured_at"]
    assert not ConsentEvent.objects.exists()


def test_email_consent_with_proof_of_a_confirmation_elsewhere_is_given_at_once(catalog, api, mailoutbox):
    customer = CustomerFactory()
    confirmation = {"confirmed_at": "2025-06-01T12:05:00Z", "ip_address": "192.0.2.1"}
    response = post(
        api, customer, choice("channel:email"), captured_at="2025-06-01T12:00:00Z", confirmation=confirmation
    )
    assert response.json()["events"][0]["state"] == "given"
    assert response.json()["confirmation_sent"] is False
    assert mailoutbox == []


def test_email_consent_without_proof_gets_candors_confirmation_mail_in_the_customers_language(
    catalog, api, django_capture_on_commit_callbacks, mailoutbox
):
    customer = CustomerFactory(locale="de")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api, customer, choice("channel:email"), language="de")
    assert response.json()["confirmation_sent"] is True
    assert [message.to for message in mailoutbox] == [[customer.email]]
    assert mailoutbox[0].subject == "Bitte bestätigen Sie Ihre E-Mail-Adresse"


def test_confirmation_mails_are_throttled_per_customer(
    catalog, api, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_CONFIRMATIONS_PER_HOUR = 1
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = post(api, customer, choice("channel:email"))
        post(api, customer, choice("channel:email", "withdrawn"))
        second = post(api, customer, choice("channel:email"))
    assert (first.json()["confirmation_sent"], second.json()["confirmation_sent"]) == (True, False)


def test_an_old_consent_captured_before_a_withdrawal_is_answered_as_history_only(catalog, api):
    customer = CustomerFactory()
    post(api, customer, choice("channel:sms", "withdrawn"))
    response = post(api, customer, choice("channel:sms"), captured_at="2024-01-01T00:00:00Z")
    assert response.json()["history_only"] == [2]
    assert response.json()["permissions_changed"] is False
