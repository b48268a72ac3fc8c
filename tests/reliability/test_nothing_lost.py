"""Loss and duplication (issue 18): a 410 then enable, a killed database session mid-send, RabbitMQ under a
resync batch. Real PostgreSQL, Redis, RabbitMQ, Celery under supervisord and a verifying receiver."""

import json
import random

import pytest
from django.db import connection

from apps.consent.models import OutboxEntry
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.delivery import selectors, services
from apps.delivery.models import Delivery, Destination
from tests.conftest import RABBITMQ_URL
from tests.factories import CustomerFactory, make_choice

from .harness import wait_until
from .test_delivery_under_faults import assert_receiver_matches_ledger, random_change, settled

pytestmark = pytest.mark.django_db(transaction=True)


def change_all(customers, state="given", purpose="channel:sms"):
    for customer in customers:
        record_choices(
            customer=customer,
            choices=[make_choice(purpose, state)],
            provenance=Provenance(source="import", actor="import:reliability"),
        )


def test_changes_made_while_a_410_disabled_the_destination_wait_and_arrive_when_it_is_enabled(
    catalog, celery_processes, verifying_receiver
):
    receiver = verifying_receiver.start()
    receiver.script.append((410, {}))
    destination = services.add_destination(name="crm", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    customers = CustomerFactory.create_batch(15)
    celery_processes()

    change_all(customers[:1])
    wait_until(
        lambda: not Destination.objects.get(pk=destination.pk).enabled,
        timeout=30,
        message="the 410 to disable",
    )
    change_all(customers)
    change_all(customers, "withdrawn")
    wait_until(settled_outbox, timeout=30, message="the fan-out")

    assert Delivery.objects.filter(destination=destination, status="pending").count() == len(customers)
    assert f'candor_delivery_pending{{destination="crm",kind="webhook"}} {len(customers)}' in (
        selectors.prometheus_metrics()
    )
    services.set_destination_enabled(destination=destination, enabled=True)

    wait_until(settled, timeout=60, interval=0.5, message="what waited to be sent")
    assert_receiver_matches_ledger(receiver, customers)


def settled_outbox():
    return not OutboxEntry.objects.filter(dispatched_at__isnull=True).exists()


def test_database_sessions_killed_mid_send_lose_nothing_and_resend_nothing_under_a_new_id(
    catalog, celery_processes, verifying_receiver
):
    receiver = verifying_receiver.start()
    receiver.delay = 0.1
    destination = services.add_destination(name="crm", kind="webhook", endpoint=receiver.url, batch_size=10)
    receiver.secret = destination.secret
    customers = CustomerFactory.create_batch(20)
    processes = celery_processes()
    rng = random.Random(18)

    for _ in range(3):
        seen = len(receiver.requests)
        for customer in customers:
            random_change(rng, customer)
        wait_until(lambda seen=seen: len(receiver.requests) > seen + 5, timeout=30, message="sends in flight")
        with connection.cursor() as cursor:  # every other session on this database: the workers'
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()

    try:
        wait_until(settled, timeout=90, interval=0.5, message="every delivery to settle")
    except AssertionError:
        print(processes.logs())
        raise
    assert not Delivery.objects.filter(status="dead").exists()
    assert_receiver_matches_ledger(receiver, customers)  # also: no version applied twice under two ids


def test_a_rabbitmq_resync_publishes_each_customer_once_and_records_it(catalog, celery_processes, exchange):
    channel, name, queue = exchange
    customers = CustomerFactory.create_batch(120)
    change_all(customers)
    destination = services.add_destination(
        name="bus", kind="rabbitmq", endpoint=RABBITMQ_URL, options={"exchange": name}, batch_size=50
    )
    celery_processes(DELIVERY_SEND_THREADS="4")
    wait_until(settled, timeout=30, message="the first changes")

    while services.resync_batch(destination=destination, batch_size=50):
        pass

    wait_until(settled, timeout=90, interval=0.5, message="the resync")
    published = []
    while (message := channel.basic_get(queue=queue, auto_ack=True))[0] is not None:
        published.append((message[1].message_id, json.loads(message[2])["data"]["customer"]["external_id"]))
    resync_ids = set(
        Delivery.objects.filter(destination=destination, resync=True).values_list("pk", flat=True)
    )
    resync = [(mid, ext) for mid, ext in published if int(mid.removeprefix("msg_")) in resync_ids]
    assert len(resync) == len({mid for mid, _ in resync}) == len(customers)
    assert {ext for _, ext in resync} == {c.external_id for c in customers}
    assert not Delivery.objects.filter(destination=destination, status="dead").exists()
