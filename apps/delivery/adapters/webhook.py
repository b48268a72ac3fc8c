"""Signed webhooks following the Standard Webhooks specification (https://www.standardwebhooks.com/).

One POST per document. Headers ``webhook-id`` (the delivery's idempotency key), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body`` with the secret's
key; during a rotation the old secret signs as well, space-separated, so receivers can switch at their pace.
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time

import httpx
from django.conf import settings
from django.utils import timezone

from . import Message, Outcome, outcome_from_response
from .network import http_client

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's prefix, not a secret)
_client: httpx.Client | None = None
_client_lock = threading.Lock()


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signing_secrets(destination) -> list[str]:
    keys = [destination.secret]
    if destination.previous_secret and (
        destination.previous_secret_expires_at and destination.previous_secret_expires_at > timezone.now()
    ):
        keys.append(destination.previous_secret)
    return keys


def signed_request(destination, message: Message) -> tuple[bytes, dict]:
    body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "Candor-Webhooks/1.0",
        "webhook-id": message.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(key, message.id, timestamp, body) for key in signing_secrets(destination)
        ),
    }
    return body, headers


def client() -> httpx.Client:
    """One keep-alive client per worker process, shared by its send threads (the first ones may ask at once)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = http_client()
        return _client


class WebhookAdapter:
    per_request = 1
    thread_safe = True  # httpx clients are
    default_rate_limit = 0.0
    default_batch_size = 50

    def send(self, destination, messages: list[Message]) -> list[Outcome]:
        (message,) = messages
        body, headers = signed_request(destination, message)
        try:
            response = client().post(
                destination.endpoint, content=body, headers=headers, timeout=settings.DELIVERY_HTTP_TIMEOUT
            )
        except httpx.HTTPError as error:
            return [Outcome(delivered=False, error=f"{type(error).__name__}: {error}")]
        return [outcome_from_response(response)]

    def close(self) -> None:
        pass
