"""Celery tasks: a few lines each around the services. Retry timing lives in the database, not in countdowns."""

import logging
import math
import time

from celery import shared_task
from django.conf import settings
from kombu.exceptions import OperationalError as BrokerUnreachable

from . import selectors, services
from .models import Destination

logger = logging.getLogger(__name__)


_fast_path_paused_until = 0.0  # time.monotonic(); per process


def on_outbox_commit() -> None:
    """The fast path, called by the consent core after a commit that wrote an outbox row
    (``settings.CONSENT_ON_OUTBOX_COMMIT``). Never raises, and never keeps a save waiting: a publish fails at once
    when the broker is down (no connection retries), and after a failure the fast path rests for
    ``DELIVERY_FAST_PATH_PAUSE_SECONDS`` (a circuit breaker). The sweeper catches up either way."""
    global _fast_path_paused_until
    if time.monotonic() < _fast_path_paused_until:
        return
    try:
        fan_out_outbox.apply_async(retry=False)
    except BrokerUnreachable:
        _fast_path_paused_until = time.monotonic() + settings.DELIVERY_FAST_PATH_PAUSE_SECONDS
        logger.warning("The broker is unreachable; the sweeper will pick up the outbox.", exc_info=True)
    except Exception:
        logger.warning("Could not queue the outbox fan-out; the sweeper will pick it up.", exc_info=True)


@shared_task
def fan_out_outbox() -> int:
    return _send_fanned_out(services.fan_out_outbox())


def _send_fanned_out(fan_out: services.FanOut) -> int:
    """Queue the routine sends of what ``fan_out`` created, then fan out and queue what is left; returns how many
    outbox rows. Whoever fans a row out queues its sends: no other fan-out will find that row again."""
    total = 0
    while fan_out.entries:
        total += fan_out.entries
        destinations = Destination.objects.filter(pk__in=fan_out.per_destination).values_list(
            "pk", "queue", "batch_size"
        )
        for destination_id, queue, batch_size in destinations:
            queue_sends(
                destination_id, queue, tasks=math.ceil(fan_out.per_destination[destination_id] / batch_size)
            )
        fan_out = services.fan_out_outbox()
    return total


@shared_task
def send_deliveries(destination_id: int, customer_ids: list[int] | None = None) -> int:
    report = services.send_due(destination_id=destination_id, customer_ids=customer_ids)
    if report.more and customer_ids is None:
        queue = Destination.objects.filter(pk=destination_id).values_list("queue", flat=True).first()
        queue_sends(destination_id, queue or "", tasks=1)
    return report.delivered


def push_now(customer_id: int) -> None:
    """After commit of a revocation: its document goes to every destination from the priority queue, ahead of
    routine changes (``DELIVERY_PRIORITY_QUEUE``). Never raises: the sweeper sends it anyway."""
    try:
        push_customer.apply_async((customer_id,), queue=settings.DELIVERY_PRIORITY_QUEUE, retry=False)
    except Exception:
        logger.warning("Could not queue the priority push; the sweeper will send it.", exc_info=True)


@shared_task
def push_customer(customer_id: int) -> None:
    """Fan out now, then one send per destination for this customer alone, each on the priority queue; then the
    routine sends of everything the fan-out took, as ``fan_out_outbox`` would: the revocation's commit publishes
    only this task, and other customers' changes it fanned out would otherwise wait for the sweeper."""
    fan_out = services.fan_out_outbox()
    for pk in Destination.objects.filter(enabled=True).values_list("pk", flat=True):
        send_deliveries.apply_async((pk, [customer_id]), queue=settings.DELIVERY_PRIORITY_QUEUE)
    _send_fanned_out(fan_out)


@shared_task
def sweep() -> int:
    """Fan out what the fast path missed and hand out every delivery that is due (retries included)."""
    services.note_sweep()
    fan_out_outbox()
    work = selectors.due_work()
    for item in work:
        queue_sends(item.destination_id, item.queue, tasks=math.ceil(item.due / item.batch_size))
    return len(work)


def queue_sends(destination_id: int, queue: str, *, tasks: int) -> None:
    for _ in range(min(tasks, settings.DELIVERY_MAX_PARALLEL_SENDS)):
        send_deliveries.apply_async((destination_id,), queue=queue or settings.DELIVERY_QUEUE)
