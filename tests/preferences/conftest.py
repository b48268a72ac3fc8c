import pytest
from django.core.cache import cache
from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.customers.links import make_token
from tests.factories import CustomerFactory


@pytest.fixture(autouse=True)
def _sms_to_memory(settings):
    from apps.preferences import sms

    settings.SMS_BACKEND = "apps.preferences.sms.LocmemSmsBackend"
    sms.outbox.clear()
    cache.clear()  # codes and rate-limit counters live in the cache (this run's own Redis database)


@pytest.fixture
def customer(catalog):
    return CustomerFactory(email="jane@example.com", phone="+491511234567", phone_verified_at=None)


def open_link(client, customer):
    response = client.get(reverse("preferences:link", args=[make_token(customer)]))
    assert response.status_code == 302
    return response


@pytest.fixture
def signed_in(client, customer):
    open_link(client, customer)
    return client


def nv(*purposes):
    """The hidden notice-version fields a rendered section carries for these purposes."""
    return {f"nv:{purpose}": str(current_notice_version(purpose).pk) for purpose in purposes}


CHANNELS = ("channel:email", "channel:sms", "channel:push")
TOPICS = ("topic:news", "topic:offers")
