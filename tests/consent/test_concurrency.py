import threading

import pytest
from django.db import connection, connections

from apps.consent.models import ConsentEvent, PermissionDocument, Snapshot
from apps.consent.rules import Provenance
from apps.consent.selectors import ledger_breaks, replayed_snapshot_fields
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

THREADS = 8
CHANGES_PER_THREAD = 10


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers with BEGIN IMMEDIATE instead")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_lose_no_update_and_keep_the_chain(catalog, postgresql_only):
    customer = CustomerFactory()
    purposes = ["channel:sms", "channel:push", "topic:offers", "location"]
    values = {"topic:offers": {"channels": ["sms"]}, "location": {"level": "city"}}
    choices = {
        (purpose, state): make_choice(purpose, state, value=values.get(purpose) if state == "given" else None)
        for purpose in purposes
        for state in ("given", "withdrawn")
    }
    start, errors = threading.Barrier(THREADS), []

    def writer(number):
        try:
            start.wait()
            for step in range(CHANGES_PER_THREAD):
                purpose = purposes[(number + step) % len(purposes)]
                state = "given" if (number + step) % 2 else "withdrawn"
                record_choices(
                    customer=customer,
                    choices=[choices[purpose, state]],
                    provenance=Provenance(source="api", actor=f"api:writer-{number}"),
                )
        except Exception as error:  # surfaced in the main thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sequences = list(ConsentEvent.objects.filter(customer=customer).values_list("sequence", flat=True))
    assert sequences == list(range(1, THREADS * CHANGES_PER_THREAD + 1))
    assert list(ledger_breaks()) == []
    snapshot = Snapshot.objects.get(customer=customer)
    replayed = replayed_snapshot_fields(customer.pk)
    assert snapshot.choices == replayed["choices"]
    assert snapshot.last_sequence == THREADS * CHANGES_PER_THREAD
    versions = list(PermissionDocument.objects.filter(customer=customer).values_list("version", flat=True))
    assert versions == list(range(1, len(versions) + 1))
    assert snapshot.document.version == versions[-1]
