"""Fan-out: each outbox row becomes one delivery per destination that sees a change in it."""

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.consent.models import OutboxEntry, PermissionDocument

from ..models import Delivery, DeliveryCursor, Destination
from .payloads import visible_part

Status = Delivery.Status


@dataclass
class FanOut:
    entries: int = 0
    per_destination: Counter = field(default_factory=Counter)


def fan_out_outbox(*, limit: int = 500) -> FanOut:
    """Claim up to ``limit`` undispatched outbox rows and turn each into one delivery per destination.

    Concurrent callers skip each other's rows (``FOR UPDATE SKIP LOCKED``), and a row is marked dispatched in
    the same transaction that creates its deliveries, so each row fans out exactly once. A disabled destination
    gets its deliveries too: they wait, pending, until it is enabled; only the newest per customer is kept.
    """
    now = timezone.now()
    with transaction.atomic():
        # Plain values, not model instances: the documents' bodies are read only if a destination needs them.
        entries = list(
            OutboxEntry.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(dispatched_at__isnull=True)
            .order_by("id")
            .values_list("pk", "document_id", "document__customer_id", "document__version")[:limit]
        )
        if not entries:
            return FanOut()
        destinations = list(Destination.objects.all())
        bodies = _bodies(entries) if any(d.purposes for d in destinations) else {}
        deliveries = [
            Delivery(
                destination=destination,
                customer_id=customer_id,
                document_id=document_id,
                version=version,
                next_attempt_at=now,
            )
            for _, document_id, customer_id, version in entries
            for destination in destinations
            if _sees_a_change(destination, customer_id, version, bodies)
        ]
        Delivery.objects.bulk_create(deliveries)
        ensure_cursors(deliveries)
        _coalesce_waiting(deliveries)
        OutboxEntry.objects.filter(pk__in=[pk for pk, *_ in entries]).update(dispatched_at=now)
    per_destination = Counter(d.destination_id for d in deliveries if d.destination.enabled)
    return FanOut(entries=len(entries), per_destination=per_destination)


def _coalesce_waiting(deliveries: list[Delivery]) -> None:
    """At a disabled destination only the newest pending version per customer can ever be sent: supersede the
    older ones now, so a long outage leaves one row per changed customer, not one per change."""
    newest: dict[tuple[int, int], Delivery] = {}
    for delivery in deliveries:
        if not delivery.destination.enabled:
            newest[delivery.destination_id, delivery.customer_id] = delivery  # entries come in id order
    by_destination: dict[int, list[Delivery]] = {}
    for (destination_id, _), delivery in newest.items():
        by_destination.setdefault(destination_id, []).append(delivery)
    for destination_id, kept in by_destination.items():
        Delivery.objects.filter(
            destination_id=destination_id,
            customer_id__in=[delivery.customer_id for delivery in kept],
            status=Status.PENDING,
        ).exclude(pk__in=[delivery.pk for delivery in kept]).update(status=Status.SUPERSEDED)


def _bodies(entries) -> dict[tuple[int, int], dict]:
    """Each entry's document body and the one before it, by (customer, version)."""
    wanted = Q(pk__in=[])
    for _, _, customer_id, version in entries:
        wanted |= Q(customer_id=customer_id, version__in=[version - 1, version])
    return {
        (customer_id, version): body
        for customer_id, version, body in PermissionDocument.objects.filter(wanted).values_list(
            "customer_id", "version", "body"
        )
    }


def _sees_a_change(destination: Destination, customer_id: int, version: int, bodies: dict) -> bool:
    """A destination limited to some purposes gets a version only if the part it may see changed."""
    if not destination.purposes:
        return True
    before = bodies.get((customer_id, version - 1))
    return before is None or visible_part(destination, before) != visible_part(
        destination, bodies[customer_id, version]
    )


def ensure_cursors(deliveries: list[Delivery]) -> None:
    """A cursor for each (destination, customer) pair that has none yet, for every writer of deliveries (the
    fan-out, a resync). Most pairs have one: look them up rather than build an insert of every pair; a
    concurrent writer creating the same pair is ignored."""
    pairs = {(d.destination_id, d.customer_id) for d in deliveries}
    existing = DeliveryCursor.objects.filter(
        destination_id__in={dest for dest, _ in pairs}, customer_id__in={cust for _, cust in pairs}
    ).values_list("destination_id", "customer_id")
    missing = pairs.difference(existing)
    if missing:
        DeliveryCursor.objects.bulk_create(
            [DeliveryCursor(destination_id=dest, customer_id=cust) for dest, cust in sorted(missing)],
            ignore_conflicts=True,
        )
