"""A narrowing catalog change reaches every permission document, as the write path writes documents."""

import pytest
from django.core.cache import cache

from apps.catalog.models import Topic
from apps.consent import services, tasks
from apps.consent.models import OutboxEntry, PermissionDocument
from apps.consent.rules import Provenance
from apps.consent.services import record_choices, refresh_documents
from tests.factories import CustomerFactory, make_choice


@pytest.fixture
def customers(catalog):
    found = []
    for _ in range(3):
        customer = CustomerFactory()
        record_choices(
            customer=customer,
            choices=[make_choice("channel:sms")],
            provenance=Provenance(source="web", actor="customer"),
        )
        found.append(customer)
    return found


def latest(customer):
    return PermissionDocument.objects.filter(customer=customer).latest("version")


def make_orders_optional():
    orders = Topic.objects.get(slug="orders")
    orders.required = False
    orders.save()


def test_a_required_topic_made_optional_leaves_every_document(customers):
    assert all("orders" in latest(c).body["channels"]["sms"]["required_topics"] for c in customers)
    make_orders_optional()
    outbox = OutboxEntry.objects.count()

    assert refresh_documents() == customers[-1].pk

    assert all("orders" not in latest(c).body["channels"]["sms"]["required_topics"] for c in customers)
    assert all(latest(c).version == 2 for c in customers)
    assert OutboxEntry.objects.count() == outbox + 3


def test_refreshing_under_an_unchanged_catalog_writes_nothing(customers):
    documents = PermissionDocument.objects.count()

    refresh_documents()

    assert PermissionDocument.objects.count() == documents


def test_the_beat_task_walks_every_customer_once_per_catalog_change(customers, eager_celery, settings):
    settings.NOTICE_INVALIDATION_BATCH_SIZE = 2
    cache.delete(services.DOCUMENTS_REFRESH)
    tasks.refresh_documents_after_catalog_change()  # under the catalog as it is: nothing changes
    make_orders_optional()

    tasks.refresh_documents_after_catalog_change()  # two batches, the second queued by the first

    assert all(latest(c).version == 2 for c in customers)
    assert tasks.refresh_documents_after_catalog_change() is None
