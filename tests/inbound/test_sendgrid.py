import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from apps.consent.models import COMPLAINT_KINDS, InboundReport
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import make_choice

from .conftest import allowed, ledger, sendgrid_event, sendgrid_post

pytestmark = pytest.mark.django_db


def test_a_group_unsubscribe_stops_the_mapped_topic_on_email_only(client, customer, sendgrid, sendgrid_key):
    response = sendgrid_post(
        client, sendgrid_key, [sendgrid_event("group_unsubscribe", customer.email, asm_group_id=4201)]
    )

    assert response.status_code == 200
    email = allowed(customer, "email")
    assert email["allowed"]
    assert "news" not in email["topics"]
    assert customer.consent_snapshot.choices["topic:news"]["value"]["channels"] == ["push"]


def test_an_unmapped_group_stops_all_marketing_email(client, customer, sendgrid, sendgrid_key):
    sendgrid_post(
        client, sendgrid_key, [sendgrid_event("group_unsubscribe", customer.email, asm_group_id=999)]
    )

    assert not allowed(customer, "email")["allowed"]


def test_a_spam_report_stops_all_marketing_email(client, customer, sendgrid, sendgrid_key):
    sendgrid_post(client, sendgrid_key, [sendgrid_event("spamreport", customer.email)])

    email = allowed(customer, "email")
    assert not email["allowed"]
    assert email["required_topics"] == ["orders"]  # order updates still go out


def test_a_spam_report_is_kept_as_a_complaint_the_experiments_count(client, customer, sendgrid, sendgrid_key):
    sendgrid_post(client, sendgrid_key, [sendgrid_event("spamreport", customer.email)])

    assert InboundReport.objects.get().kind in COMPLAINT_KINDS


def test_a_batch_with_duplicates_records_each_event_once(client, customer, sendgrid, sendgrid_key):
    unsubscribe = sendgrid_event("unsubscribe", customer.email, sg_event_id="sg-dup-1")
    opened = sendgrid_event("open", customer.email)

    response = sendgrid_post(client, sendgrid_key, [unsubscribe, opened, unsubscribe])
    sendgrid_post(client, sendgrid_key, [unsubscribe])  # SendGrid delivers at least once

    assert response.json() == {"received": 2, "duplicates": 1}
    assert len(ledger(customer, source="sendgrid")) == 1
    assert InboundReport.objects.count() == 1


def test_a_forged_signature_is_refused_and_records_nothing(client, customer, sendgrid):
    stranger = ec.generate_private_key(ec.SECP256R1())

    response = sendgrid_post(client, stranger, [sendgrid_event("unsubscribe", customer.email)])

    assert response.status_code == 401
    assert allowed(customer, "email")["allowed"]


def test_a_replay_of_an_old_signed_request_is_refused(client, customer, sendgrid, sendgrid_key):
    response = sendgrid_post(
        client,
        sendgrid_key,
        [sendgrid_event("unsubscribe", customer.email)],
        timestamp=int(time.time()) - 3600,
    )

    assert response.status_code == 401
    assert allowed(customer, "email")["allowed"]


def test_a_late_unsubscribe_never_overrides_the_customers_newer_choice(
    client, customer, sendgrid, sendgrid_key
):
    clicked = datetime.now(UTC) - timedelta(minutes=10)
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="email_link", actor="customer"),
    )

    sendgrid_post(client, sendgrid_key, [sendgrid_event("unsubscribe", customer.email, at=clicked)])

    assert allowed(customer, "email")["allowed"]
    assert InboundReport.objects.get().outcome == "stale"


def test_out_of_order_resubscribe_and_unsubscribe_end_unsubscribed(client, customer, sendgrid, sendgrid_key):
    now = datetime.now(UTC)
    unsubscribe = sendgrid_event("group_unsubscribe", customer.email, asm_group_id=4201, at=now)
    resubscribe = sendgrid_event(
        "group_resubscribe", customer.email, asm_group_id=4201, at=now - timedelta(minutes=5)
    )
    sendgrid_post(client, sendgrid_key, [unsubscribe])

    sendgrid_post(client, sendgrid_key, [resubscribe])

    assert "news" not in allowed(customer, "email")["topics"]


def test_a_hard_bounce_is_not_a_consent(client, customer, sendgrid, sendgrid_key):
    sendgrid_post(client, sendgrid_key, [sendgrid_event("bounce", customer.email, type="bounce")])

    assert allowed(customer, "email")["allowed"]
    assert not ledger(customer, source="sendgrid")
    assert InboundReport.objects.get().outcome == "flagged"
