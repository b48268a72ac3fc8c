from celery import shared_task

from . import services


@shared_task
def stop_on_guardrail_breaches() -> int:
    return len(services.stop_on_guardrail_breaches())
