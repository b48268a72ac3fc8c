"""Delivery against real PostgreSQL, Redis, Celery worker processes and a real HTTP receiver, with faults.

The receiver verifies every signature with ``standardwebhooks``, applies each ``webhook-id`` once, and keeps
the order in which it applied versions per customer.
"""

import random
import time

import pytest

from apps.consent.models import Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.delivery import services
from apps.delivery.models import Delivery
from tests.delivery.receiver import Receiver
from tests.factories import CustomerFactory, make_choice

from .harness import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = 12
PURPOSES = ["channel:email", "channel:sms", "channel:push", "location"]


def random_change(rng, customer):
    purpose = rng.choice(PURPOSES)
    state = rng.choice(["given", "withdrawn"])
    value = {"level": rng.choice(["country", "city"])} if purpose == "location" and state == "given" else None
    record_choices(
        customer=customer,
        choices=[make_choice(purpose, state, value=value)],
        provenance=Provenance(source="import", actor="import:reliability"),
    )


def settled():
    return (
        not Delivery.objects.filter(status="pending").exists()
        and not Snapshot.objects.filter(document__outbox_entry__dispatched_at__isnull=True).exists()
    )


def assert_receiver_matches_ledger(receiver, customers):
    for customer in customers:
        document = Snapshot.objects.select_related("document").get(customer=customer).document
        received = receiver.state[customer.external_id]
        assert received["version"] == document.version, customer
        assert received["channels"] == document.body["channels"], customer
        assert received["location"] == document.body["location"], customer
        versions = receiver.applied_versions[customer.external_id]
        assert versions == sorted(set(versions)), f"{customer}: applied out of order or twice: {versions}"


def test_every_change_arrives_in_order_through_a_killed_worker_a_broker_restart_and_an_outage(
    catalog, celery_processes, broker, verifying_receiver
):
    receiver = verifying_receiver.start()
    receiver.delay = 0.05
    destination = services.add_destination(name="crm", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    customers = CustomerFactory.create_batch(CUSTOMERS)
    rng = random.Random(4)
    processes = celery_processes(DELIVERY_RETRY_SCHEDULE="0.5,0.5,1,1,1,2,2,2,3,3,3,5,5")

    def burst():
        for customer in customers:
            for _ in range(3):
                random_change(rng, customer)

    # 1. The worker is killed with SIGKILL while deliveries are in flight; a new one takes over.
    burst()
    seen = len(receiver.requests)
    wait_until(lambda: len(receiver.requests) > seen + 3, timeout=30, message="deliveries in flight")
    processes.kill_workers()  # supervisord starts them again
    burst()

    # 2. Redis (the broker) restarts without persistence: every queued task is lost.
    wait_until(lambda: len(receiver.requests) > seen + 10, timeout=30, message="the new worker to deliver")
    broker.restart()
    burst()

    # 3. The receiver is down for a while, then back on the same port.
    receiver.stop()
    burst()
    wait_until(
        lambda: Delivery.objects.filter(last_error__contains="ConnectError").exists(),
        timeout=30,
        message="a delivery to meet the closed port",
    )
    time.sleep(2)
    receiver.start()

    try:
        wait_until(settled, timeout=90, interval=0.5, message="every delivery to settle")
    except AssertionError:
        print(processes.logs())
        raise
    assert not Delivery.objects.filter(status="dead").exists()
    assert receiver.refused == []
    assert_receiver_matches_ledger(receiver, customers)


def test_a_withdrawal_after_a_grant_is_never_overtaken_by_it(catalog, celery_processes, verifying_receiver):
    receiver = verifying_receiver.start()
    receiver.delay = 0.02
    destination = services.add_destination(name="esp", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    customers = CustomerFactory.create_batch(CUSTOMERS)
    celery_processes()

    for customer in customers:
        for state in ("given", "withdrawn", "given", "withdrawn"):
            record_choices(
                customer=customer,
                choices=[make_choice("channel:sms", state)],
                provenance=Provenance(source="import", actor="import:reliability"),
            )

    wait_until(settled, timeout=60, interval=0.5, message="every delivery to settle")
    for customer in customers:
        assert receiver.state[customer.external_id]["channels"]["sms"]["allowed"] is False
    assert_receiver_matches_ledger(receiver, customers)


def test_a_failing_destination_ends_dead_and_replay_then_delivers(
    catalog, celery_processes, verifying_receiver
):
    receiver = verifying_receiver.start()
    receiver.default_status = 500
    destination = services.add_destination(name="flaky", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    customer = CustomerFactory()
    celery_processes(DELIVERY_RETRY_SCHEDULE="0.2,0.4,0.8")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="import", actor="import:reliability"),
    )

    dead = wait_until(
        lambda: Delivery.objects.filter(status="dead").first(), timeout=60, message="the delivery to die"
    )
    assert dead.attempts == 4
    assert "HTTP 500" in dead.last_error
    assert len(receiver.requests) == 4

    receiver.default_status = 204
    assert services.replay_dead(destination=destination) == 1

    wait_until(lambda: Delivery.objects.filter(status="delivered").exists(), timeout=30, message="the replay")
    assert receiver.state[customer.external_id]["version"] == dead.version


def test_a_slow_destination_does_not_delay_another(catalog, celery_processes, verifying_receiver):
    slow = verifying_receiver.start()
    slow.delay = 3.0
    fast = Receiver().start()
    try:
        slow.secret = services.add_destination(
            name="a-slow", kind="webhook", endpoint=slow.url, batch_size=1
        ).secret
        fast.secret = services.add_destination(name="fast", kind="webhook", endpoint=fast.url).secret
        customers = CustomerFactory.create_batch(CUSTOMERS)
        celery_processes(concurrency=4, DELIVERY_DESTINATION_CONCURRENCY="2", DELIVERY_SEND_THREADS="1")
        warm_up = CustomerFactory()
        record_choices(
            customer=warm_up,
            choices=[make_choice("channel:sms")],
            provenance=Provenance(source="import", actor="import:reliability"),
        )
        wait_until(lambda: warm_up.external_id in fast.state, timeout=30, message="the worker to be up")
        started = time.monotonic()
        for customer in customers:
            record_choices(
                customer=customer,
                choices=[make_choice("channel:sms")],
                provenance=Provenance(source="import", actor="import:reliability"),
            )

        wait_until(lambda: len(fast.state) == CUSTOMERS + 1, timeout=20, message="the fast destination")
        assert time.monotonic() - started < 2.5
        assert (
            len(slow.state) < CUSTOMERS
        )  # still working through its queue, three seconds a request, two at a time
    finally:
        fast.stop()
