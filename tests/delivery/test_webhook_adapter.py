from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from apps.delivery import services
from apps.delivery.adapters import Message
from apps.delivery.adapters.webhook import WebhookAdapter, new_secret

from .factories import DestinationFactory

MESSAGE = Message(
    id="msg_42", customer_id=1, version=3, payload={"type": "permissions.updated", "data": {"v": 3}}
)


@pytest.fixture
def destination(db, receiver):
    return DestinationFactory(endpoint=receiver.url)


def test_a_secret_follows_the_whsec_format():
    secret = new_secret()

    assert secret.startswith("whsec_")
    Webhook(secret)  # the reference library accepts it


def test_what_is_sent_verifies_with_the_standardwebhooks_library(destination, receiver):
    WebhookAdapter().send(destination, [MESSAGE])

    sent = receiver.requests[0]
    assert Webhook(destination.secret).verify(sent.body, sent.headers) == MESSAGE.payload
    assert sent.headers["webhook-id"] == "msg_42"
    assert sent.headers["content-type"] == "application/json"


def test_a_signature_under_another_secret_does_not_verify(destination, receiver):
    WebhookAdapter().send(destination, [MESSAGE])

    sent = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(sent.body, sent.headers)


def test_during_a_rotation_both_the_old_and_the_new_secret_verify(destination, receiver):
    old = destination.secret
    new = services.rotate_secret(destination=destination)

    WebhookAdapter().send(destination, [MESSAGE])

    sent = receiver.requests[0]
    assert len(sent.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(sent.body, sent.headers)
    Webhook(new).verify(sent.body, sent.headers)


def test_after_the_overlap_only_the_new_secret_signs(destination, receiver):
    old = destination.secret
    services.rotate_secret(destination=destination, overlap=timedelta(0))
    destination.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)

    WebhookAdapter().send(destination, [MESSAGE])

    sent = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(sent.body, sent.headers)
