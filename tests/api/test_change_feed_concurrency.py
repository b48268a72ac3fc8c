"""The change feed under concurrent writers, against PostgreSQL, where ids are taken before commit and
transactions commit in another order than they started: a consumer polling all the while sees every
permission-document change exactly once, and each customer's versions in order."""

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction

from apps.consent.models import PermissionDocument
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

WRITERS = 8
CHANGES_PER_WRITER = 15
CUSTOMERS = 5
PATIENCE_SECONDS = 90


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: there, id order is commit order")


@pytest.mark.django_db(transaction=True)
def test_a_polling_consumer_sees_every_change_once_and_in_order(catalog, make_api, settings, postgresql_only):
    settings.API_RATE_LIMIT = "100000/min"
    api = make_api(scopes=["permissions:read"])
    customers = [CustomerFactory() for _ in range(CUSTOMERS)]
    choices = {state: make_choice("channel:sms", state) for state in ("given", "withdrawn")}
    start, writers_done, errors = threading.Barrier(WRITERS + 1), threading.Event(), []

    def writer(number):
        rng = random.Random(number)
        try:
            start.wait()
            for step in range(CHANGES_PER_WRITER):
                customer = rng.choice(customers)
                with transaction.atomic():
                    record_choices(
                        customer=customer,
                        choices=[choices["given" if (number + step) % 2 else "withdrawn"]],
                        provenance=Provenance(source="api", actor=f"api:writer-{number}"),
                    )
                    time.sleep(rng.uniform(0, 0.02))  # commit late, after others that started later
        except Exception as error:  # surfaced in the main thread below
            errors.append(error)
        finally:
            connections.close_all()

    seen, polls = [], 0

    def consumer():
        cursor, deadline = None, time.monotonic() + PATIENCE_SECONDS
        try:
            start.wait()
            while time.monotonic() < deadline:
                caught_up_after_writers = writers_done.is_set()
                params = {"limit": 7, **({"after": cursor} if cursor else {})}
                body = api.get("/api/v1/permissions/changes", params).json()
                nonlocal polls
                polls += 1
                seen.extend((c["external_id"], c["version"]) for c in body["changes"])
                cursor = body["next_cursor"]
                if caught_up_after_writers and len(seen) >= PermissionDocument.objects.count():
                    return
                if not body["changes"]:
                    time.sleep(0.01)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    reader = threading.Thread(target=consumer)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join()
    writers_done.set()
    reader.join()

    assert errors == []
    written = list(PermissionDocument.objects.values_list("customer__external_id", "version"))
    assert len(written) > WRITERS  # the writers really changed permissions, many times
    assert len(seen) == len(set(seen))  # nothing twice
    assert sorted(seen) == sorted(written)  # nothing missed
    for customer in customers:
        versions = [version for external_id, version in seen if external_id == customer.external_id]
        assert versions == sorted(versions)
    assert polls > 1
