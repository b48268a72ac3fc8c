from datetime import timedelta

from django.utils import timezone

from apps.delivery import selectors, services
from apps.delivery.models import Delivery, Destination

from .conftest import grant_email
from .factories import DestinationFactory


def test_a_fresh_delivery_is_left_to_the_fast_path_for_the_grace_period(customer, settings):
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 10
    DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()

    assert selectors.due_work() == []


def test_a_delivery_pending_past_the_grace_period_is_handed_out_again(customer, settings):
    settings.DELIVERY_SWEEP_GRACE_SECONDS = 10
    destination = DestinationFactory(queue="crm-queue")
    grant_email(customer)
    services.fan_out_outbox()

    (work,) = selectors.due_work(now=timezone.now() + timedelta(seconds=11))

    assert (work.destination_id, work.queue, work.due) == (destination.pk, "crm-queue", 1)


def test_a_retry_is_handed_out_when_its_time_comes(customer):
    destination = DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()
    later = timezone.now() + timedelta(minutes=5)
    Delivery.objects.update(attempts=1, next_attempt_at=later)

    assert selectors.due_work(now=later - timedelta(seconds=1)) == []
    assert [w.destination_id for w in selectors.due_work(now=later)] == [destination.pk]


def test_a_disabled_destination_is_not_handed_out(customer):
    destination = DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()
    services.set_destination_enabled(destination=destination, enabled=False, reason="maintenance")

    assert selectors.due_work(now=timezone.now() + timedelta(hours=1)) == []


def test_enabling_a_destination_makes_what_waited_due_now(customer):
    destination = DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()
    Delivery.objects.update(attempts=1, next_attempt_at=timezone.now() + timedelta(hours=5))
    services.set_destination_enabled(destination=destination, enabled=False, reason="410")

    services.set_destination_enabled(destination=destination, enabled=True)

    assert Delivery.objects.get().next_attempt_at <= timezone.now()


def test_what_a_disabled_destination_missed_is_handed_out_at_the_first_sweep_after_enabling(customer):
    destination = DestinationFactory(enabled=False)
    grant_email(customer)
    services.fan_out_outbox()
    Delivery.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    services.set_destination_enabled(destination=destination, enabled=True)

    assert [w.destination_id for w in selectors.due_work()] == [destination.pk]


def test_a_destination_that_asked_us_to_wait_is_not_handed_out_before_then(customer):
    destination = DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()
    Delivery.objects.update(attempts=1, next_attempt_at=timezone.now())
    until = timezone.now() + timedelta(minutes=2)
    Destination.objects.filter(pk=destination.pk).update(held_until=until)

    assert selectors.due_work(now=until - timedelta(seconds=1)) == []
    assert [w.destination_id for w in selectors.due_work(now=until)] == [destination.pk]
