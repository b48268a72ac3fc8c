"""Erasure: no personal data of the customer left in any table, the ledger still verifying, proof still working."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.timezone import now

from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.services import erase_customer
from apps.customers.models import Customer, MessageRecord
from apps.customers.services import ensure_login_account
from apps.delivery.models import Delivery
from apps.delivery.services import fan_out_outbox
from apps.support.models import StaffAccess
from tests.delivery.factories import DestinationFactory
from tests.factories import CustomerFactory

from .conftest import sign_in

EMAIL, PHONE, NAME = "ada@example.com", "+4915112345678", "Ada Lovelace"


def rows_containing(needle: str) -> list[tuple[str, str]]:
    """Every (table, column) of a text-like type, on any table in the database, whose value contains ``needle``."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public'
              AND data_type IN ('character varying', 'text', 'character', 'json', 'jsonb', 'citext')
            """
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            cursor.execute(
                f'SELECT 1 FROM "{table}" WHERE "{column}"::text ILIKE %s LIMIT 1',
                [f"%{needle}%"],
            )
            if cursor.fetchone():
                found.append((table, column))
    return found


def test_erasure_leaves_no_personal_data_in_any_table(client, agent, officer, customer_with_history):
    customer = customer_with_history
    login_account = ensure_login_account(customer=customer)  # the customer signed in by email code once
    DestinationFactory(identifiers=["external_id", "email", "phone"])
    fan_out_outbox()
    # A sender reported a message to them, under a message id that happens to carry the address.
    MessageRecord.objects.create(
        customer=customer,
        sender="esp",
        message_id=f"<{EMAIL}.1>",
        channel="sms",
        topic="offers",
        sent_at=now(),
    )
    agent_client = sign_in(client, agent)
    agent_client.get(reverse("support:search"), {"q": EMAIL})
    agent_client.get(reverse("support:search"), {"q": PHONE})
    agent_client.post(
        reverse("support:change", args=[customer.pk]),
        {"channel:email|answer": "yes", "how_asked": "phone", "note": "Wants the newsletter by email."},
    )
    assert rows_containing(EMAIL)  # the scan does find the address before the erasure
    officer_client = sign_in(client, officer)
    officer_client.get(reverse("support:access_export", args=[customer.pk]))

    response = officer_client.post(
        reverse("support:erase", args=[customer.pk]),
        {"how_asked": "letter", "note": "Signed letter, identity checked.", "confirm": "on"},
    )

    assert response.status_code == 302
    fan_out_outbox()
    assert Delivery.objects.filter(customer=customer).count() == 3
    assert rows_containing(EMAIL) == []
    assert rows_containing(PHONE) == []
    assert rows_containing(PHONE.removeprefix("+")) == []
    assert rows_containing(NAME) == []
    customer.refresh_from_db()
    assert customer.erased_at is not None
    assert not MessageRecord.objects.filter(customer=customer).exists()
    assert customer.user is None
    assert not get_user_model().objects.filter(pk=login_account.pk).exists()
    assert (customer.email, customer.phone, customer.name) == ("", "", "")
    call_command("verify_ledger")
    proof = officer_client.get(reverse("support:proof_json", args=[customer.pk])).json()
    assert proof["ledger"]["verifies"] is True
    assert proof["pii_principal_erased_at"]
    assert len(proof["events"]) == ConsentEvent.objects.filter(customer=customer).count()
    assert EMAIL not in json.dumps(proof)
    assert officer_client.get(reverse("support:proof", args=[customer.pk])).status_code == 200
    assert StaffAccess.objects.filter(customer=customer, what="erasure").exists()


def test_after_erasure_the_timeline_and_proof_show_an_agents_note_as_erased(
    client, agent, officer, customer_with_history
):
    customer = customer_with_history
    # Each of these slipped past the old email and phone patterns into the ledger, for good.
    note = "Lovelace rang from ada\uff20example.org (or ada at example dot org), call back on 0151_1234_5678"
    agent_client = sign_in(client, agent)
    agent_client.post(
        reverse("support:change", args=[customer.pk]),
        {"channel:email|answer": "yes", "how_asked": "phone", "note": note},
    )
    assert (
        "Lovelace rang" in agent_client.get(reverse("support:timeline", args=[customer.pk])).content.decode()
    )
    erase_customer(customer=customer, source="support_agent", actor=f"staff:{officer.pk}")

    timeline = agent_client.get(reverse("support:timeline", args=[customer.pk])).content.decode()
    assert "[erased]" in timeline
    assert "Lovelace" not in timeline
    proof = sign_in(Client(), officer).get(reverse("support:proof_json", args=[customer.pk])).json()
    assert proof["ledger"]["verifies"] is True
    assert "[erased]" in json.dumps(proof, ensure_ascii=False)
    assert "Lovelace" not in json.dumps(proof, ensure_ascii=False)
    assert rows_containing("Lovelace") == []
    assert rows_containing("1234_5678") == []


def test_erasure_withdraws_every_consent_so_downstream_systems_may_send_nothing(
    officer, customer_with_history
):
    customer = erase_customer(
        customer=customer_with_history, source="support_agent", actor=f"staff:{officer.pk}"
    )
    snapshot = Snapshot.objects.select_related("document").get(customer=customer)
    assert not any(channel["allowed"] for channel in snapshot.document.body["channels"].values())
    assert snapshot.document.body["channels"]["sms"]["topics"] == []
    last = ConsentEvent.objects.filter(customer=customer).latest("sequence")
    assert (last.state, last.source, last.evidence["reason"]) == (
        "withdrawn",
        "support_agent",
        "erasure requested",
    )


def test_erasing_twice_changes_nothing(officer, customer_with_history):
    erase_customer(customer=customer_with_history, source="support_agent", actor=f"staff:{officer.pk}")
    events = ConsentEvent.objects.count()
    customer = erase_customer(
        customer=customer_with_history, source="support_agent", actor=f"staff:{officer.pk}"
    )
    assert ConsentEvent.objects.count() == events
    assert customer.erased_at is not None


def test_an_erased_customer_cannot_be_found_by_their_old_email_nor_changed(agent_client, officer, catalog):
    customer = CustomerFactory(email=EMAIL)
    erase_customer(customer=customer, source="support_agent", actor=f"staff:{officer.pk}")
    assert agent_client.get(reverse("support:search"), {"q": EMAIL}).context["page"].customers == []
    response = agent_client.post(
        reverse("support:change", args=[customer.pk]),
        {"channel:sms|answer": "yes", "how_asked": "phone", "note": "Texts please."},
    )
    assert response.status_code == 400
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_erasure_needs_the_confirmation_and_a_note(officer_client, customer_with_history):
    response = officer_client.post(
        reverse("support:erase", args=[customer_with_history.pk]), {"how_asked": "letter", "note": ""}
    )
    assert response.status_code == 400
    assert Customer.objects.get(pk=customer_with_history.pk).erased_at is None


@pytest.mark.embedded
def test_erasure_works_on_the_embedded_default(officer, customer_with_history):
    erase_customer(customer=customer_with_history, source="support_agent", actor=f"staff:{officer.pk}")
    assert not Customer.objects.filter(email=EMAIL).exists()
    call_command("verify_ledger")
