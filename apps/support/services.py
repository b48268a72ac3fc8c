"""What the console changes: the staff access log, changes recorded on a customer's behalf, erasure requests.

Every change to a preference goes through ``apps.consent.services.record_choices`` with the agent as actor.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.catalog.selectors import catalog_rules
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import withdrawal_choices
from apps.consent.services import Recorded, erase_customer, evidence_hash, record_choices
from apps.customers.models import Customer, HeldMessage
from apps.customers.services import resolve_held_message
from apps.delivery.models import Delivery
from apps.delivery.services import replay_dead

from .models import StaffAccess

HOW_ASKED = {
    "phone": "By phone",
    "letter": "By letter",
    "email": "By email",
    "in_person": "In person",
    "text": "By text message",
}
NOTE_MAX_LENGTH = 500
# The note is kept in the ledger for good, which no erasure may touch: it must not name or reach the customer.
EMAIL_LIKE = re.compile(r"\S+@\S+\.\S+")
PHONE_LIKE = re.compile(r"(?:\+|\b)\d(?:[\s\-./()]*\d){6,}")


def record_staff_access(
    *, staff, what: str, customer: Customer | None = None, detail: str = ""
) -> StaffAccess:
    """Log that ``staff`` opened this customer's data (or searched): who, when, what."""
    return StaffAccess.objects.create(
        staff=staff, customer=customer, what=what, detail=detail[:200], at=timezone.now()
    )


def record_search(*, staff, query: str, found: int) -> StaffAccess:
    """A search is logged by a keyed hash of its query: provable later, yet no email or phone in the log."""
    return record_staff_access(
        staff=staff,
        what=StaffAccess.What.SEARCH,
        detail=f"query-hash={evidence_hash(query.strip().lower())[:32]} results={found}",
    )


def staff_actor(staff) -> str:
    return f"staff:{staff.pk}"


def _request_evidence(*, how_asked: str, note: str) -> dict:
    errors = {}
    note = (note or "").strip()
    if how_asked not in HOW_ASKED:
        errors["how_asked"] = f"Say how the customer asked: {', '.join(HOW_ASKED)}."
    if not note:
        errors["note"] = "A note is required: what did the customer ask for?"
    elif len(note) > NOTE_MAX_LENGTH:
        errors["note"] = f"Keep the note under {NOTE_MAX_LENGTH} characters."
    elif EMAIL_LIKE.search(note) or PHONE_LIKE.search(note):
        errors["note"] = (
            "Leave email addresses and phone numbers out of the note: it is kept in the ledger for good."
        )
    if errors:
        raise ValidationError(errors)
    return {"how_asked": how_asked, "note": note}


def record_change_on_behalf(
    *, staff, customer: Customer, choices: list, how_asked: str, note: str
) -> Recorded:
    """Record what the customer asked for by phone, letter, email or in person, with the agent as actor.

    Raises ``ValidationError`` (by field or by purpose) and writes nothing if the request is incomplete, or if
    the customer was erased (the write path refuses that for every door).
    """
    evidence = _request_evidence(how_asked=how_asked, note=note)
    with transaction.atomic():
        recorded = record_choices(
            customer=customer,
            choices=choices,
            source=ConsentEvent.Source.SUPPORT_AGENT,
            actor=staff_actor(staff),
            language=customer.locale,
            evidence=evidence,
        )
        record_staff_access(
            staff=staff,
            customer=customer,
            what=StaffAccess.What.RECORDED_CHANGE,
            detail=" ".join(event.purpose for event in recorded.events),
        )
    return recorded


@dataclass(frozen=True)
class Erasure:
    customer: Customer
    already_erased: bool


def fulfil_erasure_request(*, staff, customer: Customer, how_asked: str, note: str) -> Erasure:
    """Erase the customer's personal data on their request (``apps.consent.services.erase_customer``)."""
    evidence = _request_evidence(how_asked=how_asked, note=note)
    already = customer.erased_at is not None
    with transaction.atomic():
        customer = erase_customer(
            customer=customer,
            source=ConsentEvent.Source.SUPPORT_AGENT,
            actor=staff_actor(staff),
            evidence=evidence,
        )
        record_staff_access(staff=staff, customer=customer, what=StaffAccess.What.ERASURE)
    return Erasure(customer=customer, already_erased=already)


def retry_delivery(*, staff, customer: Customer, delivery_id: int) -> bool:
    """Put one of the customer's dead deliveries back in line (the delivery sweeper sends it within seconds).

    Returns whether there was such a dead delivery; a delivery of another customer is never touched.
    """
    with transaction.atomic():
        dead = Delivery.objects.filter(pk=delivery_id, customer=customer, status=Delivery.Status.DEAD)
        if not dead.exists():
            return False
        replay_dead(delivery_ids=[delivery_id])
        record_staff_access(
            staff=staff,
            customer=customer,
            what=StaffAccess.What.RETRY_DELIVERY,
            detail=f"delivery={delivery_id}",
        )
    return True


REVOCATION, NOT_REVOCATION = "revocation", "not_revocation"


def decide_held_message(*, staff, message: HeldMessage, decision: str) -> Recorded | None:
    """One click on a held text: read as a revocation, it stops the channel's marketing through the on-behalf
    flow (the agent as actor, "by text message"); otherwise it is only marked decided. Returns what was
    recorded, if anything. A message someone else decided meanwhile changes nothing."""
    if decision not in (REVOCATION, NOT_REVOCATION):
        raise ValidationError({"decision": "Decide revocation or not_revocation."})
    with transaction.atomic():
        if not resolve_held_message(message=message, staff=staff, resolution=decision):
            return None
        if decision == NOT_REVOCATION:
            return None
        snapshot = Snapshot.objects.filter(customer_id=message.customer_id).first()
        choices = withdrawal_choices(snapshot.choices if snapshot else {}, catalog_rules(), message.channel)
        if not choices:
            return None
        return record_change_on_behalf(
            staff=staff,
            customer=message.customer,
            choices=choices,
            how_asked="text",
            note=f"The customer's text (held message {message.pk}) read by staff as a request to stop.",
        )
