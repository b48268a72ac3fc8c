"""Destinations and the operator's actions on them: add, rotate a secret, switch on or off, replay dead
deliveries, resync every customer's current document."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.consent.models import Snapshot

from ..adapters import adapter_for
from ..adapters.webhook import new_secret
from ..models import Delivery, Destination
from .fan_out import ensure_cursors

Status = Delivery.Status


def add_destination(
    *,
    name: str,
    kind: str,
    endpoint: str,
    secret: str = "",
    options: dict | None = None,
    rate_limit: float | None = None,
    batch_size: int | None = None,
    purposes: list[str] | None = None,
    identifiers: list[str] | None = None,
    queue: str = "",
    enabled: bool = True,
) -> Destination:
    """Create a destination; a webhook without a secret gets a fresh ``whsec_`` one."""
    if kind not in Destination.Kind.values:
        raise ValidationError(
            {"kind": f"Unknown kind {kind!r}; use one of {', '.join(Destination.Kind.values)}."}
        )
    adapter = adapter_for(kind)
    identifiers = identifiers or ["external_id"]
    if kind == Destination.Kind.WEBHOOK and not secret:
        secret = new_secret()
    destination = Destination(
        name=name,
        kind=kind,
        endpoint=endpoint,
        secret=secret,
        options=options or {},
        rate_limit=adapter.default_rate_limit if rate_limit is None else rate_limit,
        batch_size=batch_size or adapter.default_batch_size,
        purposes=purposes or [],
        identifiers=identifiers,
        queue=queue,
        enabled=enabled,
    )
    destination.full_clean()  # the model's own rules (Destination.clean), the same for the admin
    destination.save()
    return destination


def rotate_secret(*, destination: Destination, overlap: timedelta = timedelta(hours=24)) -> str:
    """A new signing secret; the old one keeps signing alongside it for ``overlap``. Returns the new one."""
    destination.previous_secret = destination.secret
    destination.previous_secret_expires_at = timezone.now() + overlap
    destination.secret = new_secret()
    destination.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return destination.secret


def set_destination_enabled(*, destination: Destination, enabled: bool, reason: str = "") -> None:
    """Switch a destination off or on. While off, the fan-out still writes its deliveries (newest per customer);
    switched on, everything that waited is due at once: the sweeper hands it out on its next run."""
    destination.enabled = enabled
    destination.disabled_reason = "" if enabled else reason
    destination.held_until = None
    destination.save(update_fields=["enabled", "disabled_reason", "held_until"])
    if enabled:
        # Due since it was written, so not mistaken for a first attempt the fast path is still on.
        destination.deliveries.filter(status=Status.PENDING).update(next_attempt_at=F("created_at"))


def replay_dead(*, destination: Destination | None = None, delivery_ids: list[int] | None = None) -> int:
    """Put dead deliveries back in line with a fresh set of retries. Returns how many."""
    dead = Delivery.objects.filter(status=Status.DEAD)
    if destination is not None:
        dead = dead.filter(destination=destination)
    if delivery_ids is not None:
        dead = dead.filter(pk__in=delivery_ids)
    return dead.update(status=Status.PENDING, attempts=0, next_attempt_at=timezone.now())


def resync_batch(*, destination: Destination, batch_size: int = 500) -> int:
    """Queue every customer's current document for the destination, one batch per call; resumable.

    Progress is kept on the destination (``resync_after_customer``), so an interrupted resync continues where
    it stopped. Returns how many customers this batch covered; 0 when the resync is complete.
    """
    now = timezone.now()
    with transaction.atomic():
        destination = Destination.objects.select_for_update().get(pk=destination.pk)
        snapshots = (
            Snapshot.objects.filter(
                document__isnull=False, customer_id__gt=destination.resync_after_customer or 0
            )
            .select_related("document")
            .order_by("customer_id")[:batch_size]
        )
        deliveries = [
            Delivery(
                destination=destination,
                customer_id=snapshot.customer_id,
                document=snapshot.document,
                version=snapshot.document.version,
                resync=True,
                next_attempt_at=now,
            )
            for snapshot in snapshots
        ]
        if not deliveries:
            destination.resync_after_customer = None
            destination.save(update_fields=["resync_after_customer"])
            return 0
        Delivery.objects.bulk_create(deliveries)
        ensure_cursors(deliveries)
        destination.resync_after_customer = deliveries[-1].customer_id
        destination.save(update_fields=["resync_after_customer"])
    return len(deliveries)


def restart_resync(*, destination: Destination) -> None:
    destination.resync_after_customer = None
    destination.save(update_fields=["resync_after_customer"])
