import pytest
from django.core.management import call_command
from django.db import connection

from apps.consent.models import Snapshot
from apps.consent.rules import Provenance
from apps.consent.selectors import replayed_snapshot_fields
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


def test_rebuild_leaves_a_correct_snapshot_as_it_was(catalog, capsys):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    call_command("rebuild_snapshots")
    assert "Rebuilt 1 snapshots; 0 differed" in capsys.readouterr().out


def test_rebuild_repairs_a_snapshot_that_drifted_from_the_ledger(catalog, capsys):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE consent_snapshot SET choices = '{}' WHERE customer_id = %s", [customer.pk])
    call_command("rebuild_snapshots")
    assert "1 differed from the ledger and were repaired" in capsys.readouterr().out
    snapshot = Snapshot.objects.get(customer=customer)
    assert snapshot.choices == replayed_snapshot_fields(customer.pk)["choices"]
    assert snapshot.choices["channel:sms"]["state"] == "given"
