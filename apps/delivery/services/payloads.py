"""What a destination receives: the permission document cut to its identifiers and purposes."""

from typing import Any

from apps.consent.documents import PermissionBody, document_part
from apps.consent.selectors import shareable_profile

from ..models import Delivery, Destination


def visible_part(destination: Destination, body: PermissionBody) -> dict[str, Any]:
    return document_part(body, frozenset(destination.purposes))


def profile_part(destination: Destination, customer_id: int, body: PermissionBody) -> dict[str, Any]:
    """The ``profile`` section the destination receives with this document: the answers and inferences
    themselves, as far as the depth allows (``apps.consent.selectors.shareable_profile``), in place of the
    references the stored document holds; nothing for a destination not configured with ``profile``."""
    if "profile" not in destination.purposes:
        return {}
    return {"profile": shareable_profile(customer_id, body)}


def payload(destination: Destination, delivery: Delivery) -> dict:
    """The permission document as this destination may see it (its identifiers and purposes only)."""
    document, customer = delivery.document, delivery.customer
    data = {
        "customer": {
            key: getattr(customer, key)
            for key in destination.identifiers or ["external_id"]
            if getattr(customer, key, "")
        },
        "version": document.version,
        "created_at": document.created_at.isoformat(),
        "derived_from": document.derived_from,
        **visible_part(destination, document.body),
        **profile_part(destination, customer.pk, document.body),
    }
    return {"type": "permissions.updated", "timestamp": document.created_at.isoformat(), "data": data}
