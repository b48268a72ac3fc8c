import pytest
from django.db import DatabaseError, connection, transaction

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice


@pytest.fixture
def event(catalog):
    customer = CustomerFactory()
    return record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    ).events[0]


def run_raw(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.embedded
def test_update_of_a_ledger_row_is_refused_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"):
        run_raw("UPDATE consent_consentevent SET state = 'withdrawn' WHERE id = %s", [event.pk])


@pytest.mark.embedded
def test_delete_of_a_ledger_row_is_refused_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"):
        run_raw("DELETE FROM consent_consentevent WHERE id = %s", [event.pk])


@pytest.mark.embedded
def test_orm_update_of_the_ledger_is_refused_too(event):
    from apps.consent.models import ConsentEvent

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).update(actor="system")


@pytest.mark.embedded
def test_permission_documents_cannot_be_rewritten(event):
    with pytest.raises(DatabaseError, match="append-only"):
        run_raw("UPDATE consent_permissiondocument SET body = '{}'")


def test_truncate_of_the_ledger_is_refused_by_postgresql(event):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    run_raw("SET CONSTRAINTS ALL IMMEDIATE")  # deferred FK checks of the test transaction block TRUNCATE
    with pytest.raises(DatabaseError, match="append-only"):
        run_raw("TRUNCATE consent_consentevent CASCADE")
