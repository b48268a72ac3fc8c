"""One request budget per API client, counted in Redis (or the local cache when running embedded).

A fixed window per client: one counter per client and period, raised with INCR and expiring with its window,
one round trip per request however high the limit. (DRF's ``SimpleRateThrottle`` keeps a list of every
request's time in the window and rewrites it on each request, which grows with the limit.)
"""

import logging
import math
import time
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from rest_framework.exceptions import APIException
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
COUNTER_DOWN_RETRY_AFTER = 5  # seconds a write refused for want of the counter should wait
logger = logging.getLogger(__name__)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → ``(600, 60)``."""
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


@cache
def _redis(url: str) -> redis.Redis:
    # A counter is worth little waiting: short timeouts, so an unreachable Redis is known at once.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry_on_timeout=False)


def count_hit(key: str, period: int) -> int:
    """Add one to the key's counter for this window and return the new count."""
    if settings.REDIS_URL:
        pipeline = _redis(settings.REDIS_URL).pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, period + 1, nx=True)
        return pipeline.execute()[0]
    django_cache.add(key, 0, timeout=period + 1)
    try:
        return django_cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        django_cache.add(key, 1, timeout=period + 1)
        return 1


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
            count = count_hit(f"candor:throttle:api:{client.pk}:{window}", period)
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
