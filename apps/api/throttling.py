"""One request budget per API client: a fixed window per client and period (``apps.counters``). (DRF's
``SimpleRateThrottle`` keeps a list of every request's time in the window and rewrites it on each request, which
grows with the limit.)
"""

import logging
import math
import time

import redis
from django.conf import settings
from rest_framework.exceptions import APIException
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

from apps.counters import count_in_window

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
COUNTER_DOWN_RETRY_AFTER = 5  # seconds a write refused for want of the counter should wait
logger = logging.getLogger(__name__)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → ``(600, 60)``."""
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


class CounterUnavailable(APIException):
    status_code = 503
    default_detail = "The request budget cannot be checked just now; nothing was written. Try again shortly."
    wait = COUNTER_DOWN_RETRY_AFTER


class ClientRateThrottle(BaseThrottle):
    """``API_RATE_LIMIT`` (e.g. ``600/min``) per client; beyond it 429 with ``Retry-After``.

    While Redis (the counter) is unreachable, reads go on unlimited from PostgreSQL (fail open: a marketing
    system must still learn what it may not do) and writes are refused with 503 and ``Retry-After`` (fail
    closed: a client that retries on 503 loses nothing, and nobody writes unmetered)."""

    def allow_request(self, request, view):
        client = request.auth
        if client is None:
            return True  # refused by authentication before any work is done
        limit, period = parse_rate(settings.API_RATE_LIMIT)
        now = time.time()
        window = int(now // period)
        try:
            count = count_in_window(f"candor:throttle:api:{client.pk}:{window}", period + 1)
        except redis.RedisError:
            if request.method in SAFE_METHODS:
                logger.warning("The API rate limit is not counted: Redis is unreachable.", exc_info=True)
                return True
            raise CounterUnavailable() from None
        if count <= limit:
            return True
        self._wait = period - (now % period)
        return False

    def wait(self):
        return math.ceil(self._wait)
