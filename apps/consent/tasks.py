from celery import shared_task
from django.conf import settings

from apps.catalog.models import NoticeVersion

from . import selectors, services


@shared_task
def expire_consents() -> int:
    return services.expire_consents()


@shared_task
def invalidate_superseded_consents(version_id: int) -> int:
    """One batch, well inside the task time limit; queues the next while the last one got somewhere."""
    version = NoticeVersion.objects.select_related("notice").get(pk=version_id)
    invalidated = services.invalidate_superseded_consents(
        version=version, limit=settings.NOTICE_INVALIDATION_BATCH_SIZE
    )
    if invalidated and selectors.superseded_consents(version=version).exists():
        invalidate_superseded_consents.delay(version_id)
    return invalidated
