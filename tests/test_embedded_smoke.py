"""The embedded default (`make demo`) must keep working: make test runs these on SQLite as well."""

import pytest
from django.core.management import call_command

from apps.consent.models import ConsentEvent
from apps.customers.models import Customer

pytestmark = pytest.mark.embedded


def test_home_page_answers(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Your choices, explained" in response.content


def test_seed_demo_builds_a_verifiable_history_and_can_run_twice(db, capsys):
    call_command("seed_demo", customers=20)
    events = ConsentEvent.objects.count()
    call_command("seed_demo", customers=20)
    assert Customer.objects.count() == 20
    assert ConsentEvent.objects.count() == events > 20
    call_command("verify_ledger")
    assert "Ledger verifies" in capsys.readouterr().out
