from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def roll_up() -> dict:
    return services.roll_up()


# A recount reads every customer's permission document once: on a large base it needs more than the default limit.
@shared_task(
    time_limit=settings.INSIGHTS_RECOUNT_TIME_LIMIT, soft_time_limit=settings.INSIGHTS_RECOUNT_TIME_LIMIT - 30
)
def recount_shares() -> int:
    return services.recount_shares()
