from celery import shared_task

from . import services


@shared_task
def purge_exposures() -> int:
    return services.purge_exposures()
