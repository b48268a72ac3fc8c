import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice


def give_and_withdraw(customer):
    for state in ("given", "withdrawn", "given"):
        record_choices(
            customer=customer,
            choices=[make_choice("channel:sms", state)],
            provenance=Provenance(source="web", actor="customer"),
        )


@pytest.mark.embedded
def test_an_intact_ledger_verifies(catalog, capsys):
    give_and_withdraw(CustomerFactory())
    call_command("verify_ledger")
    assert "Ledger verifies: 3 events in 1 chains" in capsys.readouterr().out


def tamper(sql, params):
    """Change a ledger row the way only someone with the database's owner rights could."""
    if connection.vendor != "postgresql":
        pytest.skip("the tampering test disables PostgreSQL's trigger")
    with connection.cursor() as cursor:
        # Flush the test transaction's deferred foreign-key checks, which would block ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE consent_consentevent DISABLE TRIGGER consent_consentevent_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE consent_consentevent ENABLE TRIGGER consent_consentevent_append_only")


def test_an_altered_row_is_named_by_customer_and_sequence(catalog):
    CustomerFactory()
    customer = CustomerFactory()
    give_and_withdraw(customer)
    tamper(
        "UPDATE consent_consentevent SET state = 'given' WHERE customer_id = %s AND sequence = 2",
        [customer.pk],
    )
    with pytest.raises(CommandError, match=f"customer {customer.pk}, sequence 2: the row's content"):
        call_command("verify_ledger")


def test_a_removed_row_is_found_as_a_gap(catalog):
    customer = CustomerFactory()
    give_and_withdraw(customer)
    tamper("DELETE FROM consent_consentevent WHERE customer_id = %s AND sequence = 2", [customer.pk])
    with pytest.raises(CommandError, match=f"customer {customer.pk}, sequence 3: expected sequence 2"):
        call_command("verify_ledger")


def test_a_rewritten_chain_breaks_at_the_next_row(catalog):
    customer = CustomerFactory()
    give_and_withdraw(customer)
    tamper(
        "UPDATE consent_consentevent SET hash = %s WHERE customer_id = %s AND sequence = 1",
        ["f" * 64, customer.pk],
    )
    with pytest.raises(CommandError, match=f"customer {customer.pk}, sequence 1"):
        call_command("verify_ledger")
