"""The support console: texts held for review, one-click decisions, and revocations in timeline and proof."""

import pytest

from apps.consent.services import erase_customer
from apps.customers.models import HeldMessage
from apps.delivery import services as delivery
from apps.support.models import StaffAccess
from tests.delivery.receiver import Receiver
from tests.support.conftest import make_staff, sign_in

from .conftest import allowed, ledger, twilio_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, catalog):
    return sign_in(client, make_staff("agent"))


@pytest.fixture
def held(client, customer, twilio):
    twilio_post(client, twilio, Body="wrong number, who is this")
    return HeldMessage.objects.get()


def test_the_review_queue_shows_a_held_text_with_its_deadline(agent_client, held):
    page = agent_client.get("/support/review/").content.decode()

    assert "wrong number, who is this" in page
    assert held.deadline_at.strftime("%Y-%m-%d %H:%M") in page


def test_opening_the_review_queue_logs_each_customer_shown(agent_client, held, customer):
    agent_client.get("/support/review/")

    [access] = StaffAccess.objects.filter(customer=customer)
    assert access.what == StaffAccess.What.REVIEW_QUEUE


def test_deciding_a_held_text_is_logged_with_the_decision(agent_client, held, customer):
    agent_client.post(f"/support/review/{held.pk}/", {"decision": "not_revocation"})

    [access] = StaffAccess.objects.filter(customer=customer, what=StaffAccess.What.REVIEW_DECISION)
    assert access.detail == f"held={held.pk} decision=not_revocation"


def test_the_review_queue_refuses_a_caller_without_a_staff_session(client, held):
    response = client.get("/support/review/")

    assert response.status_code == 302
    assert response["Location"].startswith("/support/sign-in/")


def test_the_review_queue_refuses_a_staff_member_without_the_role(client, held):
    sign_in(client, make_staff("officer"))

    assert client.get("/support/review/").status_code == 403


def test_one_click_reads_a_held_text_as_a_revocation_through_the_on_behalf_flow(agent_client, held, customer):
    agent_client.post(f"/support/review/{held.pk}/", {"decision": "revocation"})

    assert not allowed(customer, "sms")["allowed"]
    [event] = ledger(customer, source="support_agent")
    assert event.actor.startswith("staff:")
    assert event.evidence["how_asked"] == "text"
    held.refresh_from_db()
    assert held.resolution == "revocation"


def test_not_a_revocation_closes_the_text_and_records_nothing(agent_client, held, customer):
    agent_client.post(f"/support/review/{held.pk}/", {"decision": "not_revocation"})

    assert allowed(customer, "sms")["allowed"]
    assert not HeldMessage.objects.filter(resolved_at=None).exists()


def test_erasure_blanks_a_held_text(held, customer):
    erase_customer(customer=customer, source="system", actor="system")

    held.refresh_from_db()
    assert held.body == ""


def test_the_timeline_and_the_proof_show_when_each_destination_acknowledged_a_stop(
    client, agent_client, customer, twilio
):
    receiver = Receiver().start()
    try:
        destination = delivery.add_destination(name="crm", kind="webhook", endpoint=receiver.url)
        twilio_post(client, twilio, Body="STOP")
        delivery.fan_out_outbox()
        delivery.send_due(destination_id=destination.pk)
    finally:
        receiver.stop()
    officer = sign_in(client.__class__(), make_staff("officer"))

    timeline = agent_client.get(f"/support/customers/{customer.pk}/timeline/").content.decode()
    proof = officer.get(f"/support/customers/{customer.pk}/proof.json").json()

    assert "Acknowledged by crm" in timeline
    [revocation] = proof["inbound_revocations"]
    assert revocation["acknowledged_by"][0]["destination"] == "crm"
    assert revocation["acknowledged_by"][0]["at"] is not None
    assert revocation["past_deadline"] is False


def test_a_data_subject_access_export_includes_a_held_text(client, held, customer):
    officer = sign_in(client, make_staff("officer"))

    export = officer.get(f"/support/customers/{customer.pk}/access-export.json").json()

    assert export["held_messages"][0]["text"] == "wrong number, who is this"
