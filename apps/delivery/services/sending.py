"""Sending: the ordering rule lives in ``send_due``. A sender holds a lease on the (destination, customer) cursor
while it sends, sends only the newest pending version, and never one older than what the destination has already
acknowledged; retries back off, and a destination's rate limit is counted in the shared cache."""

import contextlib
import itertools
import logging
import math
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from apps.counters import count_in_window

from ..adapters import Adapter, Message, Outcome, adapter_for, failed
from ..models import Delivery, DeliveryCursor, Destination
from ..selectors import SWEEP_HEARTBEAT_KEY
from .destinations import set_destination_enabled
from .payloads import payload

Status = Delivery.Status
logger = logging.getLogger(__name__)


@dataclass
class SendReport:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    superseded: int = 0
    more: bool = False


@dataclass
class Lease:
    """The claim of one send task on some customers' cursors: a token and an expiry in their rows.

    No transaction and no row lock is held while the task sends; the task renews the expiry while it works,
    and writes outcomes only for the cursors that still carry its token. A task that dies simply stops renewing,
    and its customers are claimable again ``DELIVERY_LEASE_SECONDS`` later. The expiry is read on Django's
    clock (``timezone.now()``), as the sweeper and other tasks read it, so a test can move it.
    """

    token: uuid.UUID
    cursors: list[DeliveryCursor]
    until: datetime  # the expiry as last written to the rows
    lost: threading.Event = field(default_factory=threading.Event)

    def ran_out(self) -> bool:
        """Whether the expiry has passed without a renewal: the customers may be another task's by now."""
        return timezone.now() >= self.until

    def renew(self) -> None:
        """Push the expiry on; if any cursor was taken over (this task was too slow to renew), mark it lost."""
        until = timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
        ids = [cursor.pk for cursor in self.cursors]
        try:
            renewed = _once_more_if_disconnected(
                lambda: DeliveryCursor.objects.filter(pk__in=ids, lease_token=self.token).update(
                    leased_until=until
                )
            )
        except DatabaseError:
            logger.warning("Could not renew a delivery lease; stopping the batch.", exc_info=True)
            renewed = -1
        if renewed != len(ids):
            self.lost.set()
        else:
            self.until = until

    def release(self, cursor_ids) -> None:
        DeliveryCursor.objects.filter(pk__in=list(cursor_ids), lease_token=self.token).update(
            lease_token=None, leased_until=None
        )


def send_due(*, destination_id: int, customer_ids: list[int] | None = None) -> SendReport:
    """Send the newest due version for up to ``batch_size`` customers of one destination, and record results.

    With ``customer_ids``, for those customers only (a revocation goes ahead of the routine backlog).
    Three steps, none holding a transaction across the network: claim the customers' cursors with a lease (a
    short transaction), send, then record the outcomes in a second short transaction for the cursors whose
    lease is still this task's. If the process dies mid-way nothing is recorded, the deliveries stay pending and
    due, and once the lease expires the sweeper hands them out again (receivers dedupe by the message id).
    """
    now = timezone.now()
    destination = (
        Destination.objects.filter(pk=destination_id, enabled=True).exclude(held_until__gt=now).first()
    )
    if destination is None:
        return SendReport()
    lease = _claim(destination, now, customer_ids)
    report = SendReport()
    if lease is None:
        return report  # enough senders at this destination already; the sweeper comes back
    report.claimed = len(lease.cursors)
    report.more = len(lease.cursors) == destination.batch_size
    sendable, report.superseded = _newest_sendable(destination, lease.cursors, now)
    lease.release({cursor.pk for cursor in lease.cursors} - {cursor.pk for _, cursor in sendable})
    if not sendable:
        return report
    outcomes = _send_throttled(destination, [_message(destination, d) for d, _ in sendable], lease)
    report.delivered, report.failed, recovered = _once_more_if_disconnected(
        lambda: _record_under_lease(destination, lease, sendable, outcomes, now)
    )
    report.more = report.more or recovered
    return report


def _message(destination: Destination, delivery: Delivery) -> Message:
    """What the adapter sends for a delivery: its message id (receivers dedupe by it) and the payload."""
    return Message(
        id=delivery.message_id,
        customer_id=delivery.customer_id,
        version=delivery.version,
        payload=payload(destination, delivery),
    )


def _claim(destination: Destination, now, customer_ids: list[int] | None = None) -> Lease | None:
    """Lease up to ``batch_size`` cursors with a due delivery that no live lease holds, unless
    ``DELIVERY_DESTINATION_CONCURRENCY`` tasks already send to this destination (so a slow or hanging destination
    holds that many worker processes and no more). The destination's row lock makes counting and claiming one
    step; it is held for two short statements."""
    token = uuid.uuid4()
    with transaction.atomic():
        Destination.objects.select_for_update().filter(pk=destination.pk).exists()
        live = DeliveryCursor.objects.filter(
            destination_id=destination.pk, lease_token__isnull=False, leased_until__gt=now
        )
        if live.values("lease_token").distinct().count() >= settings.DELIVERY_DESTINATION_CONCURRENCY:
            return None
        due = Delivery.objects.filter(
            destination_id=destination.pk,
            customer_id=OuterRef("customer_id"),
            status=Status.PENDING,
            next_attempt_at__lte=now,
        )
        claimable = DeliveryCursor.objects.select_for_update(skip_locked=True).filter(
            destination_id=destination.pk
        )
        if customer_ids is not None:
            claimable = claimable.filter(customer_id__in=customer_ids)
        cursors = list(
            claimable.filter(Q(lease_token__isnull=True) | Q(leased_until__lte=now))
            .filter(Exists(due))
            .order_by("id")[: destination.batch_size]
        )
        until = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
        DeliveryCursor.objects.filter(pk__in=[cursor.pk for cursor in cursors]).update(
            lease_token=token, leased_until=until
        )
    return Lease(token=token, cursors=cursors, until=until)


def _once_more_if_disconnected(work):
    """Run ``work``; if the database session was ended under us (failover, ``pg_terminate_backend``), connect
    again and run it once more. Outside a transaction only: inside one, the work so far is gone with it."""
    try:
        return work()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        connection.close()
        return work()


def _newest_sendable(destination, cursors, now) -> tuple[list[tuple[Delivery, DeliveryCursor]], int]:
    """Per claimed customer the newest pending delivery, if due and newer than what the destination has.

    Older pending versions are marked superseded (coalescing): only the latest is sent.
    """
    by_customer = {cursor.customer_id: cursor for cursor in cursors}
    pending = (
        Delivery.objects.filter(
            destination_id=destination.pk, customer_id__in=list(by_customer), status=Status.PENDING
        )
        .select_related("document", "customer")
        .order_by("customer_id", "-version", "-id")
    )
    sendable, stale, newest_seen = [], [], set()
    for delivery in pending:
        cursor = by_customer[delivery.customer_id]
        if delivery.customer_id in newest_seen:
            stale.append(delivery.pk)
            continue
        newest_seen.add(delivery.customer_id)
        behind = delivery.version < cursor.delivered_version or (
            delivery.version == cursor.delivered_version and not delivery.resync
        )
        if behind:
            stale.append(delivery.pk)
        elif delivery.next_attempt_at <= now:
            sendable.append((delivery, cursor))
    if stale:
        Delivery.objects.filter(pk__in=stale).update(status=Status.SUPERSEDED)
    return sendable, len(stale)


def _send_throttled(destination: Destination, messages: list[Message], lease: Lease) -> list[Outcome | None]:
    """One request per ``adapter.per_request`` messages, each started after a slot under the rate limit;
    requests of one batch (different customers, so order does not matter between them) run side by side if the
    adapter is thread-safe; one that is not (a pika connection) sends them one after another on one connection,
    which with publisher confirms is also faster than a fresh connection per thread. Meanwhile this thread
    renews the lease.

    No request starts after ``DELIVERY_BATCH_SECONDS``, after the lease was lost or ran out, or after the
    destination asked us to wait (429/503 ``Retry-After``) or said it is gone (410): those messages get ``None``
    (not attempted), so a hanging destination is recorded as failing well within the task's time limit instead
    of being cut off with nothing recorded, again and again.
    """
    deadline = time.monotonic() + settings.DELIVERY_BATCH_SECONDS
    shared = adapter_for(destination.kind)
    chunks = [messages[i : i + shared.per_request] for i in range(0, len(messages), shared.per_request)]
    threads = max(1, min(len(chunks), settings.DELIVERY_SEND_THREADS if shared.thread_safe else 1))
    taken = itertools.count()  # the next chunk to send, shared by the threads (next() on it is atomic)
    stop = lease.lost  # set by a failed renewal, or below when the destination says stop

    def send_until_done() -> list[tuple[int, list[Outcome | None]]]:
        """Take chunks one after another until none is left: one pool task per thread, not per chunk."""
        sent: list[tuple[int, list[Outcome | None]]] = []
        while (index := next(taken)) < len(chunks):
            throttle(destination, deadline)
            if stop.is_set() or lease.ran_out() or time.monotonic() > deadline:
                sent.append((index, [None] * len(chunks[index])))
                continue
            outcomes = _send_chunk(shared, destination, chunks[index])
            if any(outcome.retry_after is not None or outcome.gone for outcome in outcomes):
                stop.set()
            sent.append((index, list[Outcome | None](outcomes)))
        return sent

    renew_every = settings.DELIVERY_LEASE_SECONDS / 3
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(send_until_done) for _ in range(threads)]
            while wait(futures, timeout=renew_every).not_done:
                lease.renew()
            results = [pair for future in futures for pair in future.result()]
    finally:
        shared.close()
    return [outcome for _, result in sorted(results) for outcome in result]


def _send_chunk(adapter: Adapter, destination: Destination, chunk: list[Message]) -> list[Outcome]:
    """The adapter's outcomes; anything it raises is a failure of its chunk like any other (retried, in the end
    dead with this error), so the outcomes of the other chunks are still recorded."""
    try:
        outcomes = adapter.send(destination, chunk)
        if len(outcomes) != len(chunk):
            raise ValueError(f"{len(outcomes)} outcomes for {len(chunk)} messages")
    except Exception as error:
        logger.exception("The %s adapter failed on %s", destination.kind, destination.name)
        with contextlib.suppress(Exception):
            adapter.close()  # start afresh with the next chunk
        return failed(chunk, f"{type(error).__name__}: {error}"[:200])
    return outcomes


def throttle(destination: Destination, deadline: float = math.inf) -> None:
    """Wait for a slot under the destination's rate limit, counted in the shared cache (Redis) per window;
    give up waiting at ``deadline`` (``time.monotonic()``)."""
    rate = destination.rate_limit
    if rate <= 0:
        return
    window = max(1.0, 1.0 / rate)
    allowed = max(1, int(rate * window))
    while time.monotonic() <= deadline:
        now = time.time()
        slot = int(now // window)
        key = f"delivery:rate:{destination.pk}:{slot}"
        try:
            if count_in_window(key, int(window) + 2) <= allowed:
                return
        except (
            Exception
        ):  # the cache (Redis) is down: send unmetered; a 429's Retry-After still holds us back
            logger.warning("The rate limit of %s is not counted: the cache is down.", destination.name)
            return
        time.sleep(max(0.0, (slot + 1) * window - now))


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next attempt after ``attempts`` failures, with ±20 % jitter; None when out of tries."""
    schedule = settings.DELIVERY_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311 (jitter, not a secret)


def _record_under_lease(destination, lease: Lease, sendable, outcomes, now) -> tuple[int, int, bool]:
    """Record the outcomes of the customers whose cursor still carries this task's lease, and end the lease.

    A customer whose lease another task took over (this one stalled past its expiry) is left to that task: it
    sends the same delivery again under the same message id, which receivers apply once."""
    with transaction.atomic():
        held = set(
            DeliveryCursor.objects.select_for_update()
            .filter(pk__in=[cursor.pk for _, cursor in sendable], lease_token=lease.token)
            .values_list("pk", flat=True)
        )
        kept = [
            (pair, outcome) for pair, outcome in zip(sendable, outcomes, strict=True) if pair[1].pk in held
        ]
        delivered, failed_count, recovered = _record(
            destination, [pair for pair, _ in kept], [outcome for _, outcome in kept], now
        )
        lease.release(held)
    return delivered, failed_count, recovered


def _record(destination, sendable, outcomes: list[Outcome | None], now) -> tuple[int, int, bool]:
    """Write what happened to each sent delivery: one statement per group of alike outcomes, so a healthy batch
    costs a handful of queries. Returns delivered, failed, and whether waiting retries were made due."""
    delivered_at = timezone.now()
    delivered: dict[int | None, list[tuple[Delivery, DeliveryCursor]]] = {}
    failed_deliveries, gone, wait_seconds = [], None, None
    for (delivery, cursor), outcome in zip(sendable, outcomes, strict=True):
        if outcome is None:
            continue  # not attempted (out of time, or the destination said stop): stays as it was
        if outcome.delivered:
            delivered.setdefault(outcome.status_code, []).append((delivery, cursor))
            continue
        failed_deliveries.append(delivery)
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if outcome.retry_after is not None:
            wait_seconds = max(wait_seconds or 0, outcome.retry_after)
        if outcome.gone:
            gone = outcome  # stays pending: sent when the destination is enabled again
        elif outcome.permanent or (delay := retry_delay(delivery.attempts)) is None:
            delivery.status = Status.DEAD
        else:
            delivery.next_attempt_at = now + timedelta(seconds=max(delay, outcome.retry_after or 0))
        delivery.save(
            update_fields=[
                "status",
                "attempts",
                "next_attempt_at",
                "last_attempt_at",
                "last_status_code",
                "last_error",
            ]
        )
    sent = [pair for group in delivered.values() for pair in group]
    for status_code, group in delivered.items():
        Delivery.objects.filter(pk__in=[delivery.pk for delivery, _ in group]).update(
            status=Status.DELIVERED,
            attempts=F("attempts") + 1,
            last_attempt_at=now,
            last_status_code=status_code,
            last_error="",
            delivered_at=delivered_at,
        )
    recovered = False
    if sent:
        _advance_cursors(destination, sent, delivered_at)
        # It answers again: what waits out a retry step after its outage is due now, not minutes later.
        recovered = bool(
            Delivery.objects.filter(
                destination_id=destination.pk, status=Status.PENDING, attempts__gt=0, next_attempt_at__gt=now
            ).update(next_attempt_at=now)
        )
    if wait_seconds is not None:
        # Retry-After holds back the whole destination, not only the deliveries that were told.
        until = now + timedelta(seconds=wait_seconds)
        Destination.objects.filter(pk=destination.pk).filter(
            Q(held_until__isnull=True) | Q(held_until__lt=until)
        ).update(held_until=until)
    if gone is not None:
        set_destination_enabled(
            destination=destination,
            enabled=False,
            reason=f"The endpoint answered {gone.error} at {now:%Y-%m-%d %H:%M} UTC.",
        )
    return len(sent), len(failed_deliveries), recovered


def _advance_cursors(destination, sent: list[tuple[Delivery, DeliveryCursor]], delivered_at) -> None:
    """Move each cursor to the version just acknowledged (we hold their locks, so we know their values).

    One ``WHEN`` per distinct version, not per customer: building a 50-branch ``CASE`` and a 50-way ``OR`` in
    the ORM cost more than the HTTP request of each delivery."""
    newest: dict[int, int] = {}
    for delivery, cursor in sent:
        newest[cursor.pk] = max(newest.get(cursor.pk, cursor.delivered_version), delivery.version)
    by_version: dict[int, list[int]] = {}
    for cursor_id, version in newest.items():
        by_version.setdefault(version, []).append(cursor_id)
    DeliveryCursor.objects.filter(pk__in=list(newest)).update(
        delivered_version=Case(
            *(When(pk__in=pks, then=Value(version)) for version, pks in by_version.items())
        ),
        delivered_at=delivered_at,
    )
    # A dead older version no longer matters once a newer one arrived. Dead ones are rare: look, then update.
    sent_version = {delivery.customer_id: delivery.version for delivery, _ in sent}
    dead = Delivery.objects.filter(
        destination_id=destination.pk, customer_id__in=list(sent_version), status=Status.DEAD
    ).values_list("pk", "customer_id", "version")
    superseded = [pk for pk, customer_id, version in dead if version <= sent_version[customer_id]]
    if superseded:
        Delivery.objects.filter(pk__in=superseded, status=Status.DEAD).update(status=Status.SUPERSEDED)


def note_sweep() -> None:
    """Remember when the sweeper last ran, for the metric an alert watches (``selectors.sweeper_last_run``)."""
    with contextlib.suppress(Exception):  # a heartbeat is not worth failing the sweep over
        cache.set(SWEEP_HEARTBEAT_KEY, time.time(), timeout=None)
