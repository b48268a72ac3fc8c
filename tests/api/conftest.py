import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.api.models import ApiClient
from apps.api.services import api_client_create

ALL_SCOPES = ApiClient.Scope.values


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    """Rate-limit counters live in this suite's own Redis database; start every test with none."""
    settings.API_RATE_LIMIT = "1000/min"
    cache.clear()


@pytest.fixture
def make_api(db):
    """An HTTP client holding a new API client's key: ``make_api(scopes=[...], name=...)``."""

    def make(scopes=ALL_SCOPES, name=None):
        client, raw_key = api_client_create(
            name=name or f"crm-{ApiClient.objects.count() + 1}", scopes=scopes
        )
        http = APIClient()
        http.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        http.api_client, http.raw_key = client, raw_key
        return http

    return make


@pytest.fixture
def api(db, make_api):
    """An HTTP client with every scope."""
    return make_api()
