"""The ledger's evidence holds known keys with values from fixed lists; free text goes to an erasable note."""

import pytest
from django.core.exceptions import ValidationError

from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.selectors import ledger_breaks
from apps.consent.services import erase_customer, evidence_hash, record_choices
from apps.customers.models import EvidenceNote
from tests.factories import CustomerFactory, make_choice


def record(customer, evidence=None, **kwargs):
    return record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="support_agent", actor="staff:1", evidence=evidence),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("evidence", "key"),
    [
        ({"ticket": "123"}, "evidence/ticket"),
        ({"note": "Asked by phone"}, "evidence/note"),
        ({"how_asked": "x at example dot org"}, "evidence/how_asked"),
        ({"how_asked": "49_151_1234567"}, "evidence/how_asked"),
        ({"reason": "Ada Lovelace called"}, "evidence/reason"),
        ({"list": "topic:news"}, "evidence/list"),  # not a purpose this change records
        ({"note_id": "7"}, "evidence/note_id"),  # set by the write path only
        ({"how_asked": 1}, "evidence/how_asked"),
        ({"row": "12"}, "evidence/row"),
        ({"confirmed_at": "yesterday, said Ada"}, "evidence/confirmed_at"),
    ],
)
def test_evidence_outside_the_known_keys_and_values_is_refused_and_nothing_is_written(catalog, evidence, key):
    customer = CustomerFactory()
    with pytest.raises(ValidationError) as error:
        record(customer, evidence=evidence)
    assert key in error.value.message_dict
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_evidence_is_normalised_before_it_is_checked(catalog):
    customer = CustomerFactory()
    [event] = record(
        customer, evidence={"how_asked": "\uff50\uff48\uff4f\uff4e\uff45"}
    ).events  # full-width letters
    assert event.evidence == {"how_asked": "phone"}


def test_ids_and_times_are_evidence_too(catalog):
    evidence = {"import_run": 3, "row": 12, "confirmed_at": "2026-03-01T12:00:00+00:00"}
    [event] = record(CustomerFactory(), evidence=evidence).events
    assert event.evidence == evidence


def test_evidence_has_a_size_cap(catalog):
    with pytest.raises(ValidationError) as error:
        record(CustomerFactory(), evidence={f"k{number}": "v" for number in range(100)})
    assert "evidence" in error.value.message_dict


def test_a_note_is_kept_outside_the_ledger_referenced_by_id_and_keyed_hash(catalog):
    customer = CustomerFactory()
    [event] = record(customer, evidence={"how_asked": "phone"}, note="Call back: ada\uff20example.org").events
    note = EvidenceNote.objects.get(customer=customer)
    assert note.text == "Call back: ada@example.org"  # NFKC: the full-width sign is an @ like any other
    assert event.evidence == {"how_asked": "phone", "note_id": note.pk, "note_hash": evidence_hash(note.text)}
    assert "example" not in event.canonical_bytes().decode()


def test_a_change_that_records_nothing_keeps_no_note(catalog):
    customer = CustomerFactory()
    recorded = record_choices(
        customer=customer,
        choices=[make_choice("channel:sms", state="expired")],  # nothing given, so nothing to expire
        provenance=Provenance(source="system", actor="system"),
        note="Nothing to say.",
    )
    assert recorded.events == []
    assert not EvidenceNote.objects.filter(customer=customer).exists()


def test_erasure_blanks_the_notes_and_every_chain_still_verifies(catalog):
    customer = CustomerFactory()
    record(customer, note="Ada Lovelace, call back on 0151 1234 5678")
    erase_customer(customer=customer, source="support_agent", actor="staff:1", note="Letter from Ada")
    assert set(EvidenceNote.objects.filter(customer=customer).values_list("text", flat=True)) == {""}
    assert list(ledger_breaks(customer_ids=[customer.pk])) == []
