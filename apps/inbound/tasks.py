"""Celery tasks of the inbound door: a few lines each around the services."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services

logger = logging.getLogger(__name__)


def queue_recording(report_ids: list[int]) -> None:
    """After the reports are kept as received: each is recorded from the priority queue, ahead of routine
    changes. Never raises, and never keeps the provider waiting: the sweep records them anyway."""
    for report_id in report_ids:
        try:
            record_report.apply_async((report_id,), queue=settings.DELIVERY_PRIORITY_QUEUE, retry=False)
        except Exception:
            logger.warning("Could not queue a report's recording; the sweep will record it.", exc_info=True)
            return


@shared_task
def record_report(report_id: int) -> str | None:
    return services.record_received(report_id)


@shared_task
def record_waiting_reports() -> int:
    """Record what the queue missed: reports received over ``INBOUND_SWEEP_AFTER_SECONDS`` ago and still
    waiting."""
    received_before = timezone.now() - timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS)
    return services.record_waiting(received_before=received_before, limit=settings.INBOUND_SWEEP_BATCH)
