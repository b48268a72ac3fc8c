import pytest
from django.core.management import CommandError, call_command

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import make_choice

from .conftest import twilio_post

pytestmark = pytest.mark.django_db


def test_resubscriptions_lists_a_start_after_a_stop_as_the_customers_own(client, customer, twilio, capsys):
    twilio_post(client, twilio, Body="STOP")
    twilio_post(client, twilio, Body="START")

    call_command("resubscriptions", "--since", "2000-01-01")

    out = capsys.readouterr().out
    assert f"{customer.external_id}\tchannel:sms" in out
    assert "inbound:texts\texplicit" in out
    assert "1 resubscription(s) since 2000-01-01; 0 without an explicit customer action." in out


def test_resubscriptions_fails_on_one_the_customer_did_not_make(customer):
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="api", actor="api:crm"),
    )

    with pytest.raises(CommandError, match="1 resubscription"):
        call_command("resubscriptions", "--since", "2000-01-01")
