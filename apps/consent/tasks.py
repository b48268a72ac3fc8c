from celery import shared_task

from . import services


@shared_task
def expire_consents() -> int:
    return services.expire_consents()
