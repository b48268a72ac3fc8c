"""The write path's plain SQL (apps/consent/store.py) writes and reads every column the ORM would.

Its column lists come from the models' metadata, so a field added to a model is written and loaded without
touching the store; these tests fail if one is not.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.consent import store
from apps.consent.models import ConsentEvent, InboundReport, OutboxEntry, PermissionDocument, Snapshot
from apps.consent.rules import Provenance, withdrawal_choices
from apps.consent.services import Change, record_changes_in_bulk, record_choices, record_inbound_report
from tests.factories import CustomerFactory, make_choice

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def columns(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def stored(instance) -> dict:
    return columns(type(instance).objects.get(pk=instance.pk))


def choices():
    soon = timezone.now() + timedelta(days=30)
    return [
        make_choice("channel:sms"),
        make_choice("location", value={"level": "city"}, expires_at=soon),
    ]


@pytest.mark.parametrize("model", [ConsentEvent, PermissionDocument, OutboxEntry, Snapshot, InboundReport])
def test_every_field_of_a_written_model_is_written_or_filled_in_by_the_database(model):
    generated = {
        field.attname
        for field in model._meta.concrete_fields
        if field is model._meta.auto_field or field.has_db_default()
    }
    written = {field.attname for field in store.written_fields(model)}
    assert written | generated == {field.attname for field in model._meta.concrete_fields}
    assert not written & generated


def test_a_change_is_stored_as_the_orm_would_store_it_column_for_column(catalog):
    customer = CustomerFactory()
    recorded = record_choices(
        customer=customer,
        choices=choices(),
        provenance=Provenance(source="web", actor="customer"),
        ip_address="198.51.100.7",
    )

    for event in recorded.events:
        assert stored(event) == columns(event)
    assert stored(recorded.document) == columns(recorded.document)
    assert OutboxEntry.objects.filter(document=recorded.document).count() == 1
    snapshot = Snapshot.objects.get(customer=customer)
    assert snapshot.document_id == recorded.document.pk


def test_an_inbound_report_written_with_the_state_is_stored_as_the_orm_would_store_it(catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer, choices=choices(), provenance=Provenance(source="web", actor="customer")
    )
    now = timezone.now()
    report = InboundReport(
        source_name="texts",
        provider="twilio",
        event_id="SM" + "d" * 32,
        kind="STOP",
        customer=customer,
        channel="sms",
        revocation=True,
        occurred_at=now,
        received_at=now,
        deadline_at=now + timedelta(days=14),
    )

    kept, recorded = record_inbound_report(
        report=report, decide=lambda current, rules: withdrawal_choices(current, rules, "sms", ())
    )

    assert kept.outcome == InboundReport.Outcome.RECORDED
    assert kept.ledger_events == [event.pk for event in recorded.events]
    assert stored(kept) == columns(kept)


def test_a_change_in_bulk_is_stored_as_the_orm_would_store_it_column_for_column(catalog):
    customers = CustomerFactory.create_batch(2)
    results = record_changes_in_bulk(
        groups=[
            [
                Change(
                    customer_id=c.pk,
                    choices=choices(),
                    provenance=Provenance(source="import", actor="import:t"),
                )
            ]
            for c in customers
        ]
    )

    for [recorded] in results:
        for event in recorded.events:
            assert stored(event) == columns(event)
        assert stored(recorded.document) == columns(recorded.document)
        assert (
            Snapshot.objects.get(customer_id=recorded.document.customer_id).document_id
            == recorded.document.pk
        )


def test_the_locked_snapshot_and_document_are_loaded_whole_as_the_orm_loads_them(catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer, choices=choices(), provenance=Provenance(source="web", actor="customer")
    )

    with transaction.atomic():
        locked = store.lock_customer(customer.pk)

    assert not locked.snapshot.get_deferred_fields()
    assert not locked.snapshot.document.get_deferred_fields()
    assert columns(locked.snapshot) == stored(locked.snapshot)
    assert columns(locked.snapshot.document) == stored(locked.snapshot.document)
