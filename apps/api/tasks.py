from datetime import timedelta

from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def prune_idempotency_keys() -> int:
    return services.idempotency_records_prune(older_than=timedelta(hours=settings.API_IDEMPOTENCY_KEY_HOURS))
