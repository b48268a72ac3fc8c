"""The set-based bulk path leaves what the one-change write path leaves, row for row."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from apps.consent.models import ConsentEvent, OutboxEntry, PermissionDocument, Snapshot
from apps.consent.selectors import ledger_breaks
from apps.customers.models import Customer, EvidenceNote
from apps.imports.services import import_consents

from .conftest import FIXTURES

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]
MAP = str(FIXTURES / "topics.toml")
EXPORTS = [
    ("mailchimp_subscribed.csv", "mailchimp", "mailchimp", {}),
    ("mailchimp_unsubscribed.csv", "mailchimp", "mailchimp", {}),
    ("mailchimp_cleaned.csv", "mailchimp", "mailchimp", {}),
    ("mailchimp_members.csv", "mailchimp", "mailchimp", {}),
    ("klaviyo_profiles.csv", "klaviyo", "klaviyo", {}),
    ("braze_users.csv", "braze", "braze", {"exported_at": datetime(2025, 1, 1, tzinfo=UTC)}),
    ("shopify_customers.jsonl", "shopify", "shopify", {}),
    ("candor.ndjson", "ndjson", "crm", {}),
]


def everything():
    """The ledger, snapshots, documents and outbox, with database ids replaced by what they stand for."""
    key = dict(ConsentEvent.objects.values_list("pk", "customer__external_id"))
    sequence = dict(ConsentEvent.objects.values_list("pk", "sequence"))

    def event(pk):
        return (key[pk], sequence[pk])

    notes = dict(EvidenceNote.objects.values_list("pk", "text"))

    def without_run(evidence):  # the run's id differs between the two imports, and so does a note's
        same = {k: v for k, v in evidence.items() if k != "import_run"}
        if "note_id" in same:
            same["note_id"] = notes[same["note_id"]]
        return same

    events = sorted(
        (
            e.customer.external_id,
            e.sequence,
            e.purpose,
            e.state,
            e.value,
            e.notice_version_id,
            e.language,
            e.source,
            e.actor,
            without_run(e.evidence),
            e.recorded_at,
            e.captured_at,
            e.expires_at,
        )
        for e in ConsentEvent.objects.select_related("customer")
    )
    snapshots = sorted(
        (
            s.customer.external_id,
            s.last_sequence,
            s.next_expiry_at,
            s.document.version if s.document else None,
            {p: {**entry, "event": event(entry["event"])} for p, entry in s.choices.items()},
        )
        for s in Snapshot.objects.select_related("customer", "document")
    )
    documents = sorted(
        (d.customer.external_id, d.version, d.body, [event(pk) for pk in d.derived_from], d.created_at)
        for d in PermissionDocument.objects.select_related("customer")
    )
    outbox = sorted(
        (o.document.customer.external_id, o.document.version)
        for o in OutboxEntry.objects.select_related("document__customer")
    )
    customers = sorted(
        Customer.objects.values_list("external_id", "email", "phone", "locale", "email_undeliverable_at")
    )
    return events, snapshots, documents, outbox, customers


def import_all(tmp_path, bulk, batch_size):
    summaries = []
    for name, fmt, source, options in EXPORTS:
        target = tmp_path / name
        target.write_bytes((FIXTURES / name).read_bytes())
        summary = import_consents(
            path=str(target),
            fmt=fmt,
            source=source,
            map_path=MAP,
            bulk=bulk,
            batch_size=batch_size,
            **options,
        )
        summaries.append(summary.as_dict())
    return summaries


@pytest.mark.parametrize("batch_size", [1, 3, 500])
def test_the_bulk_path_leaves_exactly_what_record_choices_leaves(legacy_notices, tmp_path, batch_size):
    with time_machine.travel("2026-02-01 12:00Z", tick=False):
        with transaction.atomic():
            one_by_one = import_all(tmp_path, bulk=False, batch_size=batch_size), everything()
            transaction.set_rollback(True)
        in_bulk = import_all(tmp_path, bulk=True, batch_size=batch_size), everything()

    assert in_bulk[0] == one_by_one[0]  # the same summaries, rejections included
    assert in_bulk[1] == one_by_one[1]
    assert list(ledger_breaks()) == []


def test_after_a_bulk_import_the_ledger_verifies_and_no_snapshot_drifts(legacy_notices, tmp_path, capsys):
    import_all(tmp_path, bulk=True, batch_size=2)

    call_command("verify_ledger")
    call_command("rebuild_snapshots")

    printed = capsys.readouterr().out
    assert "Ledger verifies: 20 events in 14 chains." in printed
    assert "0 differed from the ledger" in printed
