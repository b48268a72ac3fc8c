"""record_changes_in_bulk: each group all or nothing, decided as record_choices decides."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Choice, Provenance
from apps.consent.selectors import ledger_breaks, replayed_snapshot_fields
from apps.consent.services import Change, erase_customer, record_changes_in_bulk, record_choices
from tests.factories import CustomerFactory, make_choice

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def change(customer, *choices, captured_at=None, **options):
    provenance = Provenance(source="import", actor="import:t", captured_at=captured_at)
    return Change(customer_id=customer.pk, choices=list(choices), provenance=provenance, **options)


def test_a_bad_group_is_returned_as_its_error_and_writes_nothing_while_the_others_are_written(catalog):
    ada, bob = CustomerFactory(), CustomerFactory()
    bad = Choice("channel:push", "given", make_choice("channel:sms").notice_version_id)

    good, refused = record_changes_in_bulk(
        groups=[
            [change(ada, make_choice("channel:push"))],
            [change(bob, make_choice("channel:sms")), change(bob, bad)],
        ]
    )

    assert [event.purpose for event in good[0].events] == ["channel:push"]
    assert isinstance(refused, ValidationError)
    assert not ConsentEvent.objects.filter(customer=bob).exists()


def test_an_erased_customer_is_refused_as_record_choices_refuses_them(catalog):
    customer = CustomerFactory()
    erase_customer(customer=customer, source="support_agent", actor="staff:1")

    (refused,) = record_changes_in_bulk(groups=[[change(customer, make_choice("channel:push"))]])

    assert "erased" in str(refused)


def test_several_changes_for_one_customer_chain_in_order_and_keep_later_choices_standing(catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:push", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    earlier = timezone.now() - timedelta(days=3)

    (first,), (second,) = record_changes_in_bulk(
        groups=[
            [change(customer, make_choice("channel:push"), captured_at=earlier)],
            [change(customer, make_choice("channel:sms"))],
        ]
    )

    assert first.history_only == tuple(first.events)
    assert [e.sequence for e in second.events] == [3]
    snapshot = Snapshot.objects.get(customer=customer)
    assert snapshot.choices == replayed_snapshot_fields(customer.pk)["choices"]
    assert snapshot.choices["channel:push"]["state"] == "withdrawn"
    assert snapshot.document.version == 2
    assert list(ledger_breaks()) == []
