from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ClientRateThrottle(SimpleRateThrottle):
    """One request budget per API client (``API_RATE_LIMIT``, e.g. ``600/min``), counted in the shared cache."""

    scope = "client"

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view):
        client = request.auth
        if client is None:
            return None  # refused by authentication before any work is done
        return self.cache_format % {"scope": self.scope, "ident": client.pk}
