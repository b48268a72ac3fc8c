"""The demo's sandbox receiver: verifies a webhook as a receiver should and keeps it for the sandbox page."""

from django.core.cache import cache
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from ..models import Destination

SANDBOX_KEEP = 50


def receive_in_sandbox(*, destination: Destination, body: bytes, headers: dict) -> bool:
    """Verify a webhook the way a receiver should (``standardwebhooks``), and keep it for the sandbox page.

    Returns False if the signature does not verify. A message id seen before is acknowledged, not kept again.
    """
    try:
        event = Webhook(destination.secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    key = f"delivery:sandbox:{destination.pk}"
    arrivals = cache.get(key, [])
    if any(arrival["id"] == headers.get("webhook-id") for arrival in arrivals):
        return True
    arrival = {"id": headers.get("webhook-id"), "received_at": timezone.now().isoformat(), "event": event}
    cache.set(key, [arrival, *arrivals][:SANDBOX_KEEP], timeout=None)
    return True
