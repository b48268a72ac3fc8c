"""Reads of the delivery side: what is due, and how each destination is doing."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.utils import timezone

from apps.consent.models import InboundReport, OutboxEntry, PermissionDocument

from .models import Delivery, Destination

SWEEP_HEARTBEAT_KEY = "delivery:sweep:last-run"

Status = Delivery.Status


def destinations_with_stats():
    """Destinations annotated with pending, delivered and dead counts, oldest pending time and last error."""
    return Destination.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=Status.PENDING)),
        delivered=Count("deliveries", filter=Q(deliveries__status=Status.DELIVERED)),
        dead=Count("deliveries", filter=Q(deliveries__status=Status.DEAD)),
        oldest_pending_at=Min("deliveries__created_at", filter=Q(deliveries__status=Status.PENDING)),
        last_error=Subquery(
            Delivery.objects.filter(destination=OuterRef("pk"))
            .exclude(last_error="")
            .order_by("-last_attempt_at")
            .values("last_error")[:1]
        ),
    )


@dataclass(frozen=True)
class DueWork:
    destination_id: int
    queue: str
    batch_size: int
    due: int


def due_work(*, now: datetime | None = None) -> list[DueWork]:
    """Enabled destinations with pending deliveries the fast path should have sent by now, unless a destination
    asked us to wait (``held_until``).

    First attempts get a grace period (the fast path is on it); retries are due at their ``next_attempt_at``.
    """
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.DELIVERY_SWEEP_GRACE_SECONDS)
    overdue = Q(deliveries__status=Status.PENDING) & (
        Q(deliveries__attempts=0, deliveries__next_attempt_at__lte=grace)
        | Q(deliveries__attempts__gt=0, deliveries__next_attempt_at__lte=now)
    )
    rows = (
        Destination.objects.filter(enabled=True)
        .exclude(held_until__gt=now)
        .annotate(due=Count("deliveries", filter=overdue))
        .filter(due__gt=0)
        .values_list("pk", "queue", "batch_size", "due")
    )
    return [DueWork(pk, queue or settings.DELIVERY_QUEUE, batch, due) for pk, queue, batch, due in rows]


def prometheus_metrics(*, now: datetime | None = None) -> str:
    """Per destination counts and the age of the oldest pending delivery, in Prometheus text format."""
    now = now or timezone.now()
    lines = []

    def metric(name, kind, help_text, samples):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    destinations = list(destinations_with_stats())

    def per_destination(value):
        return [(f'{{destination="{_label(d.name)}",kind="{d.kind}"}}', value(d)) for d in destinations]

    metric(
        "candor_delivery_pending",
        "gauge",
        "Deliveries waiting to be sent.",
        per_destination(lambda d: d.pending),
    )
    metric(
        "candor_delivery_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest pending delivery.",
        per_destination(
            lambda d: round((now - d.oldest_pending_at).total_seconds(), 3) if d.oldest_pending_at else 0
        ),
    )
    metric(
        "candor_delivery_delivered",
        "gauge",
        "Deliveries acknowledged.",
        per_destination(lambda d: d.delivered),
    )
    metric(
        "candor_delivery_dead",
        "gauge",
        "Deliveries that ran out of retries or were refused.",
        per_destination(lambda d: d.dead),
    )
    metric(
        "candor_delivery_destination_enabled",
        "gauge",
        "1 if the destination receives.",
        per_destination(lambda d: int(d.enabled)),
    )
    undispatched = OutboxEntry.objects.filter(dispatched_at__isnull=True).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    metric(
        "candor_outbox_undispatched", "gauge", "Outbox rows not yet fanned out.", [("", undispatched["n"])]
    )
    metric(
        "candor_outbox_oldest_undispatched_age_seconds",
        "gauge",
        "Age of the oldest outbox row not yet fanned out.",
        [("", round((now - undispatched["oldest"]).total_seconds(), 3) if undispatched["oldest"] else 0)],
    )
    revocations = revocation_metrics(now=now, window=timedelta(days=settings.INBOUND_METRICS_DAYS))
    metric(
        "candor_inbound_revocations_recorded",
        "gauge",
        f"Revocations reported back by providers and recorded, last {settings.INBOUND_METRICS_DAYS} days.",
        [("", revocations["recorded"])],
    )
    metric(
        "candor_inbound_receipt_to_ledger_p95_seconds",
        "gauge",
        "95th percentile from receiving a provider's revocation to its ledger event.",
        [("", round(revocations["receipt_to_ledger_p95"], 3))],
    )
    metric(
        "candor_inbound_receipt_to_acknowledged_p95_seconds",
        "gauge",
        "95th percentile from receiving a revocation to every destination acknowledging it.",
        [("", round(revocations["receipt_to_acknowledged_p95"], 3))],
    )
    metric(
        "candor_inbound_unacknowledged",
        "gauge",
        "Recorded revocations some destination has not acknowledged yet.",
        [("", revocations["unacknowledged"])],
    )
    metric(
        "candor_inbound_waiting_for_ledger",
        "gauge",
        "Revocations received and not yet recorded (the priority queue or its sweep records them).",
        [("", revocations["waiting_for_ledger"])],
    )
    metric(
        "candor_inbound_past_deadline",
        "gauge",
        "Revocations not recorded or not acknowledged everywhere by their legal deadline (INBOUND_DEADLINES).",
        [("", revocations["past_deadline"])],
    )
    last_sweep = sweeper_last_run()
    if last_sweep is not None:  # absent when unknown (never ran, or the cache is down): alert on absent() too
        metric(
            "candor_delivery_sweeper_last_run_age_seconds",
            "gauge",
            "Seconds since the sweeper last ran.",
            [("", round(max(0.0, now.timestamp() - last_sweep), 3))],
        )
    return "\n".join(lines) + "\n"


def sweeper_last_run() -> float | None:
    """When the sweeper last ran (Unix time), or None if unknown."""
    try:
        return cache.get(SWEEP_HEARTBEAT_KEY)
    except Exception:  # the cache (Redis) is down: the metrics still answer from PostgreSQL
        return None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sandbox_arrivals(destination: Destination) -> list[dict]:
    """What the sandbox receiver verified and kept, newest first."""
    return cache.get(f"delivery:sandbox:{destination.pk}", [])


# Revocations reported back by a provider: proof that each was honoured in time ---------------------------------


@dataclass(frozen=True)
class Acknowledgement:
    destination: str
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class RevocationProgress:
    """Received, recorded, and acknowledged by each destination, against the deadline that applies."""

    report: InboundReport
    version: int | None  # the permission document that carried the revocation
    acknowledgements: list[Acknowledgement]

    @property
    def all_acknowledged_at(self) -> datetime | None:
        times = [ack.acknowledged_at for ack in self.acknowledgements]
        if None in times:
            return None
        return max(times, default=self.report.recorded_at)

    def past_deadline(self, now: datetime) -> bool:
        deadline = self.report.deadline_at
        done = self.all_acknowledged_at
        return bool(deadline) and (done > deadline if done else now > deadline)


def revocation_progress(reports) -> list[RevocationProgress]:
    """For each recorded revocation: the document version that carried it (the newest written by its recording
    time) and when each destination that existed then first acknowledged that version or a newer one. A
    revocation still waiting for the ledger (kept as received) comes last, with neither."""
    waiting = [
        RevocationProgress(r, None, [])
        for r in reports
        if r.revocation and r.outcome == InboundReport.Outcome.RECEIVED
    ]
    reports = [r for r in reports if r.revocation and r.outcome == InboundReport.Outcome.RECORDED]
    if not reports:
        return waiting
    customers = {report.customer_id for report in reports}
    documents: dict[int, list[tuple[datetime, int]]] = {}
    for customer_id, created_at, version in (
        PermissionDocument.objects.filter(customer_id__in=customers)
        .order_by("version")
        .values_list("customer_id", "created_at", "version")
    ):
        documents.setdefault(customer_id, []).append((created_at, version))
    delivered: dict[tuple[int, int], list[tuple[int, datetime]]] = {}
    for destination_id, customer_id, version, at in Delivery.objects.filter(
        customer_id__in=customers, status=Status.DELIVERED
    ).values_list("destination_id", "customer_id", "version", "delivered_at"):
        delivered.setdefault((destination_id, customer_id), []).append((version, at))
    destinations = list(Destination.objects.filter(enabled=True).values_list("pk", "name", "created_at"))
    progress = []
    for report in reports:
        version = max(
            (v for at, v in documents.get(report.customer_id, []) if at <= report.recorded_at), default=None
        )
        acknowledgements = [
            Acknowledgement(
                name,
                min(
                    (at for v, at in delivered.get((pk, report.customer_id), []) if version and v >= version),
                    default=None,
                ),
            )
            for pk, name, created_at in destinations
            if created_at <= report.recorded_at
        ]
        progress.append(RevocationProgress(report, version, acknowledgements))
    return progress + waiting


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def revocation_metrics(*, now: datetime, window: timedelta) -> dict:
    """p95 receipt → ledger and receipt → every destination acknowledged, how many are still waiting for the
    ledger (kept as received), and how many are past their deadline, over the revocations received within
    ``window``."""
    progress = revocation_progress(
        InboundReport.objects.filter(revocation=True, received_at__gte=now - window)
    )
    recorded = [p for p in progress if p.report.recorded_at]
    to_ledger = [(p.report.recorded_at - p.report.received_at).total_seconds() for p in recorded]
    to_acked = [
        (p.all_acknowledged_at - p.report.received_at).total_seconds()
        for p in recorded
        if p.all_acknowledged_at
    ]
    return {
        "recorded": len(recorded),
        "receipt_to_ledger_p95": percentile(to_ledger, 0.95),
        "receipt_to_acknowledged_p95": percentile(to_acked, 0.95),
        "unacknowledged": sum(p.all_acknowledged_at is None for p in recorded),
        "waiting_for_ledger": len(progress) - len(recorded),
        "past_deadline": sum(p.past_deadline(now) for p in progress),
    }
