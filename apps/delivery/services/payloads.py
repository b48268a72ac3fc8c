"""What a destination receives: the permission document cut to its identifiers and purposes."""

from typing import Any

from apps.consent.documents import PermissionBody, document_part

from ..adapters import Message
from ..models import Delivery, Destination


def visible_part(destination: Destination, body: PermissionBody) -> dict[str, Any]:
    return document_part(body, frozenset(destination.purposes))


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
    }
    return {"type": "permissions.updated", "timestamp": document.created_at.isoformat(), "data": data}


def _message(destination: Destination, delivery: Delivery) -> Message:
    return Message(
        id=delivery.message_id,
        customer_id=delivery.customer_id,
        version=delivery.version,
        payload=payload(destination, delivery),
    )
