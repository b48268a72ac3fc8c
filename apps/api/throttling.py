"""One request budget per API client, counted in Redis (or the local cache when running embedded).

A fixed window per client: one counter per client and period, raised with INCR and expiring with its window,
one round trip per request however high the limit. (DRF's ``SimpleRateThrottle`` keeps a list of every
request's time in the window and rewrites it on each request, which grows with the limit.)
"""

import math
import time
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → ``(600, 60)``."""
    count, period = rate.split("/")
    return int(count), PERIODS[period[0]]


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


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


class ClientRateThrottle(BaseThrottle):
    """``API_RATE_LIMIT`` (e.g. ``600/min``) per client; beyond it 429 with ``Retry-After``."""

    def allow_request(self, request, view):
        client = request.auth
        if client is None:
            return True  # refused by authentication before any work is done
        limit, period = parse_rate(settings.API_RATE_LIMIT)
        now = time.time()
        window = int(now // period)
        if count_hit(f"candor:throttle:api:{client.pk}:{window}", period) <= limit:
            return True
        self._wait = period - (now % period)
        return False

    def wait(self):
        return math.ceil(self._wait)
