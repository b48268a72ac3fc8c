import pytest

from apps.consent.models import OutboxEntry
from apps.delivery import services, tasks
from apps.delivery.models import Delivery, DeliveryCursor
from tests.factories import CustomerFactory

from .conftest import grant_email, withdraw_email
from .factories import DestinationFactory


def test_each_outbox_row_becomes_one_delivery_per_destination(customer):
    first, second = DestinationFactory(), DestinationFactory()
    recorded = grant_email(customer)

    fan_out = services.fan_out_outbox()

    assert fan_out.entries == 1
    deliveries = Delivery.objects.filter(document=recorded.document)
    assert {d.destination for d in deliveries} == {first, second}
    assert {d.status for d in deliveries} == {"pending"}
    assert DeliveryCursor.objects.filter(customer=customer).count() == 2


def test_a_disabled_destination_gets_its_deliveries_to_wait_but_no_send_tasks(customer):
    enabled, disabled = DestinationFactory(), DestinationFactory(enabled=False)
    recorded = grant_email(customer)

    fan_out = services.fan_out_outbox()

    waiting = Delivery.objects.get(destination=disabled)
    assert (waiting.document, waiting.status) == (recorded.document, "pending")
    assert dict(fan_out.per_destination) == {enabled.pk: 1}


def test_a_disabled_destination_keeps_only_the_newest_waiting_version_per_customer(customer):
    disabled = DestinationFactory(enabled=False)
    grant_email(customer)
    services.fan_out_outbox()
    latest = withdraw_email(customer)

    services.fan_out_outbox()

    assert list(
        Delivery.objects.filter(destination=disabled, status="pending").values_list("version", flat=True)
    ) == [latest.document.version]
    assert Delivery.objects.filter(destination=disabled, status="superseded").count() == 1


def test_an_outbox_row_fans_out_only_once(customer):
    DestinationFactory()
    grant_email(customer)

    services.fan_out_outbox()
    again = services.fan_out_outbox()

    assert again.entries == 0
    assert Delivery.objects.count() == 1
    assert not OutboxEntry.objects.filter(dispatched_at__isnull=True).exists()


@pytest.mark.embedded
def test_the_write_path_delivers_right_after_commit(
    customer, receiver, eager_celery, django_capture_on_commit_callbacks
):
    DestinationFactory(endpoint=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        recorded = grant_email(customer)

    assert [r.json()["data"]["version"] for r in receiver.requests] == [recorded.document.version]
    assert Delivery.objects.get().status == "delivered"


def test_a_destination_limited_to_some_purposes_gets_only_versions_that_change_them(customer):
    sms_only = DestinationFactory(purposes=["sms"])
    everything = DestinationFactory()
    grant_email(customer)  # the first version: sms_only gets it, it has nothing earlier
    services.fan_out_outbox()
    withdraw_email(customer)  # changes email only

    services.fan_out_outbox()

    assert Delivery.objects.filter(destination=sms_only).count() == 1
    assert Delivery.objects.filter(destination=everything).count() == 2


def test_a_priority_push_queues_the_routine_sends_of_other_changes_its_fan_out_took(
    customer, catalog, queued_tasks, settings
):
    """A revocation's commit publishes only the push: another customer's change the push fanned out is sent on
    the routine path, not left for the sweeper."""
    destination = DestinationFactory()
    grant_email(other := CustomerFactory())
    withdraw_email(customer)

    tasks.push_customer(customer.pk)

    assert queued_tasks == [
        ("apps.delivery.tasks.send_deliveries", [destination.pk, [customer.pk]]),
        ("apps.delivery.tasks.send_deliveries", [destination.pk]),
    ]
    assert Delivery.objects.filter(customer=other, destination=destination).count() == 1
