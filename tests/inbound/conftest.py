"""Inbound sources signed the providers' way with keys made here, and customers who allowed email and texts."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from standardwebhooks import Webhook
from twilio.request_validator import RequestValidator

from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.inbound.services import add_inbound_source
from tests.factories import CustomerFactory, make_choice

TWILIO_TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def recorded_at_once(eager_celery):
    """A report kept as received is recorded in-process at once, as a worker on the priority queue takes it in
    milliseconds (``tests/inbound/test_recording.py`` tests the queue and the sweep themselves)."""


@pytest.fixture
def customer(catalog):
    """Email confirmed, texts on, news by email and push, offers by email and text: chosen an hour ago."""
    customer = CustomerFactory(phone="+4915112345678")
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=1)):
        record_choices(
            customer=customer,
            choices=[
                make_choice("channel:email"),
                make_choice("channel:sms"),
                make_choice("topic:news", value={"channels": ["email", "push"]}),
                make_choice("topic:offers", value={"channels": ["email", "sms"]}),
            ],
            provenance=Provenance(source="import", actor="import:test"),
        )
    return customer


def ledger(customer, **filters):
    return list(ConsentEvent.objects.filter(customer=customer, **filters).order_by("sequence"))


def allowed(customer, channel):
    customer.consent_snapshot.refresh_from_db()
    return customer.consent_snapshot.document.body["channels"][channel]


# Twilio ---------------------------------------------------------------------------------------------------


@pytest.fixture
def twilio(catalog):
    return add_inbound_source(name="texts", kind="twilio", signing_key=TWILIO_TOKEN).source


def twilio_post(client, source, *, token=TWILIO_TOKEN, **fields):
    """An incoming message as Twilio posts it, signed over the configured URL and the sorted parameters."""
    path = f"/inbound/{source.name}/"
    params = {
        "MessageSid": fields.pop("MessageSid", f"SM{time.time_ns():032x}"[:34]),
        "AccountSid": "AC" + "0" * 32,
        "MessagingServiceSid": "MG" + "1" * 32,
        "From": "+4915112345678",
        "To": "+15005550006",
        "NumMedia": "0",
        **fields,
    }
    signature = RequestValidator(token).compute_signature(settings.SITE_URL.rstrip("/") + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


# SendGrid -------------------------------------------------------------------------------------------------


@pytest.fixture
def sendgrid_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def sendgrid(catalog, sendgrid_key):
    der = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return add_inbound_source(
        name="sendgrid",
        kind="sendgrid",
        public_key=base64.b64encode(der).decode(),  # as SendGrid's mail settings show it
        scopes={"4201": {"channel": "email", "topics": ["news"]}},
    ).source


def sendgrid_event(event, email, *, at=None, **extra):
    return {
        "email": email,
        "timestamp": int((at or datetime.now(UTC)).timestamp()),
        "event": event,
        "sg_event_id": extra.pop("sg_event_id", f"sg-{time.time_ns()}"),
        "sg_message_id": "msg-1.filter0001",
        **extra,
    }


def sendgrid_post(client, key, events, *, timestamp=None):
    body = json.dumps(events).encode()
    timestamp = str(timestamp or int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return client.post(
        "/inbound/sendgrid/",
        body,
        content_type="application/json",
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=base64.b64encode(signature).decode(),
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=timestamp,
    )


# Standard Webhooks -----------------------------------------------------------------------------------------


def standard_webhooks_post(client, path, secret, payload, *, msg_id="msg_1"):
    body = json.dumps(payload)
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body)
    return client.post(
        path,
        body,
        content_type="application/json",
        HTTP_WEBHOOK_ID=msg_id,
        HTTP_WEBHOOK_TIMESTAMP=str(int(now.timestamp())),
        HTTP_WEBHOOK_SIGNATURE=signature,
    )
