"""Fixed-window counters in the shared cache: one key per window, raised with INCR and expiring with its window,
one round trip however high the limit. The API's request budget, a destination's rate limit and a customer's
hourly allowance of codes and confirmation mails all count this way.

In Redis when ``REDIS_URL`` is set (the local cache when running embedded), with short timeouts: a count is
worth little waiting, so an unreachable Redis is known at once (``redis.RedisError``) and each caller decides
whether to go on uncounted or refuse.
"""

from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, retry_on_timeout=False)


def count_in_window(key: str, seconds: int) -> int:
    """Add one to the count of ``key``'s window (which starts with its first count and lasts ``seconds``) and
    return the new count."""
    if settings.REDIS_URL:
        pipeline = _redis(settings.REDIS_URL).pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, seconds, nx=True)
        return pipeline.execute()[0]
    django_cache.add(key, 0, timeout=seconds)
    try:
        return django_cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        django_cache.add(key, 1, timeout=seconds)
        return 1


def forget_counts(keys: list[str]) -> None:
    """Drop these counters (an erased customer's allowances)."""
    if settings.REDIS_URL:
        _redis(settings.REDIS_URL).delete(*keys)
    else:
        django_cache.delete_many(keys)
