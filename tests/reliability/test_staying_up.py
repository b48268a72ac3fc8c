"""Staying up (issue 18, and issue 10's held transaction): a broker outage, Redis down under the API, a hanging
destination beside a healthy one and the change feed."""

import time

import psycopg
import pytest
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from apps.api.services import api_client_create
from apps.consent.models import OutboxEntry
from apps.delivery import services, tasks
from tests.delivery.receiver import Receiver
from tests.factories import CustomerFactory

from .harness import wait_until
from .test_delivery_under_faults import assert_receiver_matches_ledger, settled
from .test_nothing_lost import change_all

pytestmark = pytest.mark.django_db(transaction=True)


def test_delivery_resumes_by_itself_after_a_broker_outage(
    catalog, celery_processes, broker, verifying_receiver
):
    receiver = verifying_receiver.start()
    destination = services.add_destination(name="crm", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    customers = CustomerFactory.create_batch(10)
    processes = celery_processes()

    broker.stop()
    change_all(customers)
    time.sleep(10)  # the broker stays down; a worker waits, or exits and supervisord starts it again
    broker.start()

    try:
        wait_until(settled, timeout=90, interval=0.5, message="delivery to resume after the outage")
    except AssertionError:
        print(processes.logs())
        raise
    assert_receiver_matches_ledger(receiver, customers)


def test_after_the_broker_failed_once_the_fast_path_rests_and_leaves_the_rows_to_the_sweeper(
    catalog, unreachable_broker, monkeypatch
):
    publishes = []
    publish = tasks.fan_out_outbox.apply_async
    monkeypatch.setattr(
        tasks.fan_out_outbox, "apply_async", lambda *a, **kw: publishes.append(1) or publish(*a, **kw)
    )
    customers = CustomerFactory.create_batch(3)

    change_all(customers)  # transactional test: each write commits and runs the hook

    assert len(publishes) == 1
    assert OutboxEntry.objects.filter(dispatched_at__isnull=True).count() == 3


def test_permission_reads_keep_working_and_writes_say_503_while_redis_is_down(catalog, settings):
    _client, key = api_client_create(name="crm", scopes=["permissions:read", "consents:write"])
    customer = CustomerFactory()
    change_all([customer])
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nobody listens
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    read = api.get(f"/api/v1/customers/{customer.external_id}/permissions")
    write = api.post(f"/api/v1/customers/{customer.external_id}/consents", {"choices": []}, format="json")

    assert read.status_code == 200
    assert write.status_code == 503
    assert write["Retry-After"] == "5"
    assert write["Content-Type"] == "application/problem+json"


def test_the_change_feed_advances_while_a_destination_hangs(catalog, celery_processes):
    hanging = Receiver().start()
    hanging.delay = 20
    try:
        services.add_destination(name="hangs", kind="webhook", endpoint=hanging.url)
        first, second = CustomerFactory.create_batch(2)
        celery_processes(DELIVERY_HTTP_TIMEOUT="30")
        _client, key = api_client_create(name="feed", scopes=["permissions:read"])
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        cursor = api.get("/api/v1/permissions/changes", {"limit": 1000}).json()["next_cursor"]

        change_all([first])
        wait_until(lambda: hanging.started, timeout=30, message="a send to hang")
        change_all([second])

        def second_in_feed():
            body = api.get("/api/v1/permissions/changes", {"after": cursor, "limit": 1000}).json()
            return second.external_id in {item["external_id"] for item in body["changes"]}

        wait_until(second_in_feed, timeout=15, interval=0.2, message="the feed to show the second change")
        assert hanging.requests == []  # the send is still hanging: no answer given yet
    finally:
        hanging.stop()


def test_a_persistent_database_connection_the_server_dropped_is_replaced_before_the_next_request(catalog):
    _client, key = api_client_create(name="crm", scopes=["permissions:read"])
    customer = CustomerFactory()
    change_all([customer])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/v1/customers/{customer.external_id}/permissions"
    assert api.get(url).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute(
            "SELECT pg_terminate_backend(%s)", [pid]
        )  # a PostgreSQL restart, as the web process sees it
    close_old_connections()  # what Django does as each request starts (the test client leaves it out)

    assert api.get(url).status_code == 200
