import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from apps.catalog.models import NoticeVersion
from apps.catalog.selectors import catalog_revision_token

from . import selectors, services

logger = logging.getLogger(__name__)


@shared_task
def expire_consents() -> int:
    return services.expire_consents()


def _chain_running(version_id: int) -> str:
    """The cache key a version's invalidation chain holds while it works: the sweeper leaves that version be."""
    return f"consent:invalidating:{version_id}"


def _finished(version_id: int) -> str:
    """The cache key of a version that supersedes no standing consent any more. It stays so: a consent under an
    older version can no longer be given (the write path checks notices under the customer's lock), so the
    sweeper need not scan every snapshot for it again. Lost with the cache, it costs one scan to set again."""
    return f"consent:invalidated:{version_id}"


@shared_task
def invalidate_superseded_consents(version_id: int) -> int:
    """One batch, well inside the task time limit; queues the next while the last one got somewhere."""
    cache.set(_chain_running(version_id), True, settings.NOTICE_INVALIDATION_SWEEP_SECONDS)
    version = NoticeVersion.objects.select_related("notice").get(pk=version_id)
    invalidated = services.invalidate_superseded_consents(
        version=version, limit=settings.NOTICE_INVALIDATION_BATCH_SIZE
    )
    left = selectors.superseded_consents(version=version).exists()
    if invalidated and left:
        invalidate_superseded_consents.delay(version_id)
    else:
        cache.delete(_chain_running(version_id))
    if not left:
        cache.set(_finished(version_id), True, None)
    return invalidated


def queue_invalidation(version_id: int) -> bool:
    """Start invalidating what a just-published version supersedes; False if the broker could not take the task
    (the version stays published, and ``sweep_notice_invalidations`` queues it once the broker is back)."""
    cache.set(_chain_running(version_id), True, settings.NOTICE_INVALIDATION_SWEEP_SECONDS)
    try:
        invalidate_superseded_consents.delay(version_id)
    except Exception:
        cache.delete(_chain_running(version_id))
        logger.warning("Could not queue the invalidation of %s; the sweeper will.", version_id, exc_info=True)
        return False
    return True


@shared_task
def sweep_notice_invalidations() -> int:
    """Queue the invalidation for every material version that still leaves superseded consents standing (the
    broker was down when it was published, or its chain stopped early), unless a chain for it ran lately.
    One EXISTS per notice whose newest material version is not known to be finished. Returns how many versions
    it queued."""
    versions = selectors.newest_material_versions()
    finished = cache.get_many([_finished(version.pk) for version in versions])
    queued = 0
    for version in versions:
        if _finished(version.pk) in finished:
            continue
        if not selectors.superseded_consents(version=version).exists():
            cache.set(_finished(version.pk), True, None)
        elif cache.add(_chain_running(version.pk), True, settings.NOTICE_INVALIDATION_SWEEP_SECONDS):
            invalidate_superseded_consents.delay(version.pk)
            queued += 1
    return queued


# A checkpoint reads every snapshot: a million took 23 s (81 s for the first, which stores every head) on the
# 2 shared CPUs under load 12. Its own limits, below the broker's visibility timeout (4 times the task time limit),
# so no second worker is handed the same run meanwhile.
@shared_task(
    soft_time_limit=3 * settings.CELERY_TASK_TIME_LIMIT, time_limit=3 * settings.CELERY_TASK_TIME_LIMIT + 15
)
def take_ledger_checkpoint() -> int:
    return services.take_ledger_checkpoint().pk


DOCUMENTS_REFRESH = "consent:documents-refresh"


@shared_task
def refresh_documents_after_catalog_change() -> int | None:
    """One batch of re-derived documents while the catalog revision differs from the one every document was last
    derived under; queues the next batch until all are done. Celery beat starts it every
    ``CATALOG_REFRESH_SECONDS``; batches are as large as the invalidation's (``NOTICE_INVALIDATION_BATCH_SIZE``).
    A walk interrupted by a newer catalog change starts over. Returns the last
    customer id done, or ``None`` when there was nothing to do."""
    token = catalog_revision_token()
    state = cache.get(DOCUMENTS_REFRESH) or {}
    if state.get("done") == token:
        return None
    after = state.get("after", 0) if state.get("token") == token else 0
    last = services.refresh_documents(after=after, limit=settings.NOTICE_INVALIDATION_BATCH_SIZE)
    if last is None:
        cache.set(DOCUMENTS_REFRESH, {"done": token}, None)
        return None
    cache.set(DOCUMENTS_REFRESH, {"token": token, "after": last}, None)
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
