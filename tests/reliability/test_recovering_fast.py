"""Recovering fast (issue 18): a destination that answers again gets what waited at once, and one that asks us
to wait (429/503 Retry-After) is left alone as a whole, not one delivery at a time."""

import time

import pytest

from apps.delivery import services
from apps.delivery.models import Delivery
from tests.factories import CustomerFactory

from .harness import wait_until
from .test_delivery_under_faults import assert_receiver_matches_ledger, settled
from .test_nothing_lost import change_all

pytestmark = pytest.mark.django_db(transaction=True)


def test_after_an_outage_what_waits_out_a_long_retry_step_arrives_once_the_destination_answers(
    catalog, celery_processes, verifying_receiver
):
    receiver = verifying_receiver.start()
    destination = services.add_destination(name="crm", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    customers = CustomerFactory.create_batch(10)
    celery_processes(DELIVERY_RETRY_SCHEDULE="0.5,300,300")  # the second retry is five minutes away
    receiver.stop()

    change_all(customers)
    wait_until(
        lambda: Delivery.objects.filter(attempts=2).count() == len(customers),
        timeout=60,
        message="every delivery to wait out its five minutes",
    )
    receiver.start()
    change_all(customers[:1], "withdrawn")  # one new change meets the destination healthy again

    wait_until(settled, timeout=60, interval=0.5, message="what waited to be sent")  # not five minutes
    assert_receiver_matches_ledger(receiver, customers)


def test_retry_after_holds_back_the_whole_destination(catalog, celery_processes, verifying_receiver):
    receiver = verifying_receiver.start()
    destination = services.add_destination(name="crm", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    customers = CustomerFactory.create_batch(10)
    celery_processes()
    receiver.script.append((429, {"Retry-After": "6"}))

    change_all(customers[:1])
    wait_until(lambda: receiver.requests, timeout=30, message="the 429")
    change_all(customers[1:])  # new changes while the destination asked us to wait
    time.sleep(3)

    assert len(receiver.requests) == 1  # nothing more was sent during the wait
    wait_until(settled, timeout=60, interval=0.5, message="the sends after the wait")
    assert_receiver_matches_ledger(receiver, customers)
