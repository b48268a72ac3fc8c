"""Postmark, Mailchimp, Braze and the generic Standard Webhooks source."""

import base64
import json
import time
from datetime import UTC, datetime

import pytest

from apps.consent.models import COMPLAINT_KINDS, InboundReport
from apps.consent.services import change_identity
from apps.inbound.services import add_inbound_source
from tests.factories import CustomerFactory

from .conftest import allowed, ledger, standard_webhooks_post

pytestmark = pytest.mark.django_db


# Postmark -------------------------------------------------------------------------------------------------


@pytest.fixture
def postmark(catalog):
    return add_inbound_source(
        name="postmark", kind="postmark", scopes={"newsletter": {"channel": "email", "topics": ["news"]}}
    )


def postmark_post(client, new, change, *, password=None):
    credentials = f"{new.source.username}:{password or new.secret}".encode()
    return client.post(
        "/inbound/postmark/",
        json.dumps(change),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(credentials).decode(),
    )


def subscription_change(
    email, *, suppress=True, reason="ManualSuppression", origin="Recipient", stream="newsletter"
):
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": "a8c1-4f1b-bd6e",
        "ServerID": 23,
        "MessageStream": stream,
        "ChangedAt": datetime.now(UTC).isoformat(),
        "Recipient": email,
        "Origin": origin,
        "SuppressSending": suppress,
        "SuppressionReason": reason if suppress else None,
        "Tag": "",
        "Metadata": {},
    }


def test_postmark_refuses_a_wrong_password(client, customer, postmark):
    response = postmark_post(client, postmark, subscription_change(customer.email), password="guess")

    assert response.status_code == 401
    assert not InboundReport.objects.exists()


def test_a_recipients_unsubscribe_from_a_stream_stops_its_topic(client, customer, postmark):
    postmark_post(client, postmark, subscription_change(customer.email))

    assert "news" not in allowed(customer, "email")["topics"]
    assert allowed(customer, "email")["allowed"]


def test_a_postmark_spam_complaint_stops_all_marketing_email(client, customer, postmark):
    postmark_post(client, postmark, subscription_change(customer.email, reason="SpamComplaint"))

    assert not allowed(customer, "email")["allowed"]


def test_a_postmark_spam_complaint_is_kept_as_a_complaint_the_experiments_count(client, customer, postmark):
    postmark_post(client, postmark, subscription_change(customer.email, reason="SpamComplaint"))

    assert InboundReport.objects.get().kind in COMPLAINT_KINDS


def test_the_brand_lifting_a_suppression_does_not_consent_for_the_customer(client, customer, postmark):
    postmark_post(client, postmark, subscription_change(customer.email, stream="other"))
    postmark_post(
        client,
        postmark,
        subscription_change(customer.email, suppress=False, origin="Customer", stream="other"),
    )

    assert not allowed(customer, "email")["allowed"]


# Mailchimp ------------------------------------------------------------------------------------------------


@pytest.fixture
def mailchimp(catalog):
    return add_inbound_source(name="mailchimp", kind="mailchimp")


def mailchimp_fields(kind, email, **data):
    fields = {
        "type": kind,
        "fired_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "data[id]": "8a25ff1d98",
        "data[list_id]": "a6b5da1054",
        "data[email]": email,
        "data[email_type]": "html",
        "data[ip_opt]": "10.20.10.30",
        "data[campaign_id]": "cb398d21d2",
    }
    fields.update({f"data[{key}]": value for key, value in data.items()})
    return fields


def test_mailchimp_checks_the_url_with_a_get_when_the_webhook_is_saved(client, mailchimp):
    assert client.get(f"/inbound/mailchimp/{mailchimp.secret}/").status_code == 200


def test_mailchimp_without_the_url_secret_is_not_found(client, customer, mailchimp):
    response = client.post(
        "/inbound/mailchimp/wrong-secret/", mailchimp_fields("unsubscribe", customer.email, action="unsub")
    )

    assert response.status_code == 404
    assert allowed(customer, "email")["allowed"]


def test_a_mailchimp_unsubscribe_from_an_unmapped_list_stops_all_marketing_email(client, customer, mailchimp):
    fields = mailchimp_fields("unsubscribe", customer.email, action="unsub", reason="manual")

    client.post(f"/inbound/mailchimp/{mailchimp.secret}/", fields)
    client.post(f"/inbound/mailchimp/{mailchimp.secret}/", fields)  # retried

    assert not allowed(customer, "email")["allowed"]
    assert len(ledger(customer, source="mailchimp")) == 1


def test_a_cleaned_address_is_a_deliverability_flag_not_a_consent(client, customer, mailchimp):
    client.post(
        f"/inbound/mailchimp/{mailchimp.secret}/", mailchimp_fields("cleaned", customer.email, reason="hard")
    )

    customer.refresh_from_db()
    assert customer.email_undeliverable_at is not None
    email = allowed(customer, "email")
    assert email["allowed"]
    assert email["undeliverable_since"] == customer.email_undeliverable_at.isoformat()
    assert not ledger(customer, source="mailchimp")


def test_a_mailchimp_abuse_report_stops_all_marketing_email_as_a_complaint(client, customer, mailchimp):
    client.post(
        f"/inbound/mailchimp/{mailchimp.secret}/", mailchimp_fields("cleaned", customer.email, reason="abuse")
    )

    assert not allowed(customer, "email")["allowed"]
    assert InboundReport.objects.get().kind in COMPLAINT_KINDS


def test_an_echo_of_candors_own_unsubscribe_records_nothing(client, customer, mailchimp):
    client.post(
        f"/inbound/mailchimp/{mailchimp.secret}/",
        mailchimp_fields("unsubscribe", customer.email, action="unsub"),
    )
    before = len(ledger(customer))

    later = mailchimp_fields("unsubscribe", customer.email, action="unsub")
    later["data[id]"] = "another"
    client.post(f"/inbound/mailchimp/{mailchimp.secret}/", later)

    assert len(ledger(customer)) == before
    assert InboundReport.objects.filter(outcome="unchanged").count() == 1


# Braze ----------------------------------------------------------------------------------------------------


@pytest.fixture
def braze(catalog):
    return add_inbound_source(
        name="braze", kind="braze", scopes={"sg-offers": {"channel": "sms", "topics": ["offers"]}}
    )


def state_change(
    customer, *, status="Unsubscribed", source="preference center", group="sg-offers", channel="sms"
):
    return {
        "id": f"evt-{time.time_ns()}",
        "time": int(time.time()),
        "external_user_id": customer.external_id,
        "email_address": None,
        "phone_number": customer.phone,
        "subscription_group_api_id": group,
        "channel": channel,
        "subscription_status": status,
        "state_change_source": source,
    }


def braze_post(client, new, events, *, token=None):
    return client.post(
        "/inbound/braze/",
        json.dumps({"events": events}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token or new.secret}",
    )


def test_braze_refuses_a_wrong_bearer_token(client, customer, braze):
    assert braze_post(client, braze, [state_change(customer)], token="guess").status_code == 401


def test_a_braze_unsubscribe_from_a_group_stops_its_topic_on_its_channel(client, customer, braze):
    braze_post(client, braze, [state_change(customer)])

    assert customer.consent_snapshot.choices["topic:offers"]["value"]["channels"] == ["email"]


def test_a_change_made_through_brazes_rest_api_is_an_echo_and_records_nothing(client, customer, braze):
    braze_post(client, braze, [state_change(customer, source="REST API")])

    assert not ledger(customer, source="braze")
    assert InboundReport.objects.get().outcome == "echo"


# Generic (Standard Webhooks) ------------------------------------------------------------------------------


@pytest.fixture
def generic(catalog):
    return add_inbound_source(name="crm", kind="generic")


def test_a_signed_generic_unsubscribe_is_recorded(client, customer, generic):
    payload = {
        "type": "unsubscribed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"external_id": customer.external_id},
    }

    response = standard_webhooks_post(client, "/inbound/crm/", generic.secret, payload, msg_id="msg_crm_1")

    assert response.status_code == 200
    assert not allowed(customer, "email")["allowed"]


def test_a_generic_post_signed_with_another_secret_is_refused(client, customer, generic):
    payload = {
        "type": "unsubscribed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"external_id": customer.external_id},
    }

    response = standard_webhooks_post(client, "/inbound/crm/", "whsec_" + "A" * 44, payload)

    assert response.status_code == 401
    assert allowed(customer, "email")["allowed"]


def test_a_new_address_clears_the_deliverability_flag_of_the_old_one(client, customer, mailchimp):
    client.post(
        f"/inbound/mailchimp/{mailchimp.secret}/", mailchimp_fields("cleaned", customer.email, reason="hard")
    )

    change_identity(external_id=customer.external_id, email="new@example.com", source="web", actor="customer")

    customer.refresh_from_db()
    assert customer.email_undeliverable_at is None
    assert "undeliverable_since" not in allowed(customer, "email")
    assert customer.consent_snapshot.choices["channel:email"]["state"] == "requested"


def test_a_new_address_clears_the_flag_from_the_document_without_email_consent(client, catalog, mailchimp):
    customer = CustomerFactory(email="old@example.com")
    client.post(
        f"/inbound/mailchimp/{mailchimp.secret}/", mailchimp_fields("cleaned", customer.email, reason="hard")
    )
    assert "undeliverable_since" in allowed(customer, "email")

    change_identity(external_id=customer.external_id, email="new@example.com", source="web", actor="customer")

    assert "undeliverable_since" not in allowed(customer, "email")


def test_a_generic_message_delivered_twice_is_recorded_once(client, customer, generic):
    payload = {
        "type": "unsubscribed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "customer": {"email": customer.email},
    }

    standard_webhooks_post(client, "/inbound/crm/", generic.secret, payload, msg_id="msg_twice")
    again = standard_webhooks_post(client, "/inbound/crm/", generic.secret, payload, msg_id="msg_twice")

    assert again.json() == {"received": 1, "duplicates": 1}
    assert len(ledger(customer, source="inbound_webhook")) == 1
