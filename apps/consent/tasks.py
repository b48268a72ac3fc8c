import logging

from celery import shared_task
from django.conf import settings

from . import selectors, services

logger = logging.getLogger(__name__)


@shared_task
def expire_consents() -> int:
    return services.expire_consents()


@shared_task
def invalidate_superseded_consents(version_id: int) -> int:
    """One batch, well inside the task time limit; queues the next while the last one got somewhere."""
    invalidated, goes_on = services.invalidate_next_batch(version_id)
    if goes_on:
        invalidate_superseded_consents.delay(version_id)
    return invalidated


def queue_invalidation(version_id: int) -> bool:
    """Start invalidating what a just-published version supersedes; False if the broker could not take the task
    (the version stays published, and ``sweep_notice_invalidations`` queues it once the broker is back)."""
    services.start_invalidation_chain(version_id)
    try:
        invalidate_superseded_consents.delay(version_id)
    except Exception:
        services.stop_invalidation_chain(version_id)
        logger.warning("Could not queue the invalidation of %s; the sweeper will.", version_id, exc_info=True)
        return False
    return True


@shared_task
def sweep_notice_invalidations() -> int:
    """Queue the invalidation for every material version whose chain stopped; returns how many it queued."""
    claimed = services.claim_stopped_invalidations()
    for version_id in claimed:
        invalidate_superseded_consents.delay(version_id)
    return len(claimed)


# A checkpoint reads every snapshot: a million took 23 s (81 s for the first, which stores every head) on the
# 2 shared CPUs under load 12. Its own limits, below the broker's visibility timeout (4 times the task time limit),
# so no second worker is handed the same run meanwhile.
@shared_task(
    soft_time_limit=3 * settings.CELERY_TASK_TIME_LIMIT, time_limit=3 * settings.CELERY_TASK_TIME_LIMIT + 15
)
def take_ledger_checkpoint() -> int:
    return services.take_ledger_checkpoint().pk


@shared_task
def refresh_documents_after_catalog_change() -> int | None:
    """Re-derive documents after a catalog change, a batch a task, each queuing the next. Celery beat starts it
    every ``CATALOG_REFRESH_SECONDS``. Returns the last customer id done, or ``None`` when there was nothing."""
    last, goes_on = services.refresh_next_documents()
    if goes_on:
        refresh_documents_after_catalog_change.delay()
    return last


@shared_task
def send_email_confirmations(customer_ids: list[int]) -> int:
    """The double opt-in mails a batch of imported consent asks for, sent by a worker rather than in the import's
    loop: each in the customer's language, throttled per customer, and only while still awaited."""
    sent = 0
    for snapshot in selectors.snapshots_awaiting_email_confirmation(customer_ids):
        sent += services.send_email_confirmation(snapshot.customer, snapshot.customer.locale)
    return sent
