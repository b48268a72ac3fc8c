"""A run says what it does before it does it, does it once, and finishes after an interruption without duplicates."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.selectors import ledger_breaks, replayed_snapshot_fields
from apps.customers.models import Customer
from apps.imports import services
from apps.imports.models import ImportRun
from apps.imports.selectors import run_progress
from apps.imports.services import import_consents, start_import

from .conftest import FIXTURES

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]
MAP = str(FIXTURES / "topics.toml")


def run(path, **options):
    return import_consents(path=path, fmt="mailchimp", source="mailchimp", map_path=MAP, **options)


def ledger():
    return list(
        ConsentEvent.objects.values_list("customer__external_id", "sequence", "purpose", "state", "hash")
    )


def test_a_dry_run_writes_nothing_and_reports_what_the_real_run_then_does(legacy_notices, export):
    path = export("mailchimp_subscribed.csv")

    dry = run(path, dry_run=True)

    assert (Customer.objects.count(), ConsentEvent.objects.count()) == (0, 0)
    real = run(path)
    assert dry.as_dict() == real.as_dict()
    assert real.as_dict()["customers_created"] == 2


def test_running_the_same_file_again_changes_nothing(legacy_notices, export):
    path = export("mailchimp_subscribed.csv")
    run(path)
    before = ledger()

    again = run(path)

    assert ledger() == before
    assert again.already_imported_rows == 2
    assert sum(again.events.values()) == 0


def test_a_run_interrupted_part_way_finishes_without_duplicates_when_started_again(legacy_notices, tmp_path):
    lines = (FIXTURES / "mailchimp_subscribed.csv").read_text().splitlines(keepends=True)
    partial, whole = tmp_path / "part.csv", tmp_path / "audience.csv"
    partial.write_text("".join(lines[:2]))  # the header and the first row: what committed before the crash
    whole.write_text("".join(lines))
    run(str(partial), batch_size=1)

    resumed = run(str(whole), batch_size=1)

    assert resumed.already_imported_rows == 1
    assert (
        ConsentEvent.objects.filter(customer__email="ada@example.com", purpose="channel:email").count() == 1
    )
    assert list(ledger_breaks()) == []
    for snapshot in Snapshot.objects.all():
        assert snapshot.choices == replayed_snapshot_fields(snapshot.customer_id)["choices"]


def test_the_command_prints_the_summary_and_lists_the_run_with_its_events_by_row(
    legacy_notices, export, capsys
):
    path = export("mailchimp_subscribed.csv")

    call_command("import_consents", path, "--format", "mailchimp", "--source", "mailchimp", "--map", MAP)
    printed = capsys.readouterr().out
    call_command("list_imports")
    listed = capsys.readouterr().out
    run_id = int(listed.split("\t")[0])
    call_command("list_imports", str(run_id))
    traced = capsys.readouterr().out

    assert "customers created: 2, matched: 0" in printed
    assert "bad email address: 1" in printed
    assert "mailchimp_subscribed.csv" in listed
    assert "mailchimp_subscribed.csv row 1\tcustomer mailchimp:" in traced
    assert "channel:email given\tcaptured 2021-03-01 10:05:00" in traced


def test_a_mapping_file_naming_an_unknown_topic_is_refused_before_any_row_is_read(
    legacy_notices, export, tmp_path
):
    bad_map = tmp_path / "topics.toml"
    bad_map.write_text('[topics]\n"Newsletter" = "nope"\n"Orders" = "orders"\n"Texts" = "news:sms"\n')

    with pytest.raises(ValidationError) as refused:
        import_consents(
            path=export("mailchimp_subscribed.csv"),
            fmt="mailchimp",
            source="mailchimp",
            map_path=str(bad_map),
        )

    assert "no topic 'nope'" in str(refused.value)
    assert "'orders' is required" in str(refused.value)
    assert "'news' may not use sms" in str(refused.value)
    assert ConsentEvent.objects.count() == 0


def test_an_import_without_the_sources_legacy_notice_is_refused(catalog, export):
    with pytest.raises(ValidationError, match="No legacy notice from 'mailchimp' for channel:email"):
        run(export("mailchimp_subscribed.csv"))


def test_each_batch_leaves_the_summary_so_far_where_a_page_can_read_it_even_in_a_dry_run(
    legacy_notices, export, monkeypatch
):
    path = export("mailchimp_subscribed.csv")
    started = start_import(path=path, fmt="mailchimp", source="mailchimp", dry_run=True)
    seen = []
    report = services._report_progress

    def report_and_read(job):
        report(job)
        seen.append(run_progress(ImportRun.objects.get(pk=started.pk))["rows"])

    monkeypatch.setattr(services, "_report_progress", report_and_read)

    summary = run(path, dry_run=True, batch_size=1, run=started)

    assert seen == list(range(1, started.total_rows + 1))
    assert run_progress(ImportRun.objects.get(pk=started.pk)) == summary.as_dict()
    assert ConsentEvent.objects.count() == 0


def test_a_run_is_not_started_for_a_file_that_does_not_read(legacy_notices, tmp_path):
    path = tmp_path / "audience.csv"
    path.write_bytes(b"\xff\xfe\x00not text")

    with pytest.raises(ValidationError) as error:
        start_import(path=str(path), fmt="mailchimp", source="mailchimp")

    assert "file" in error.value.message_dict
    assert not ImportRun.objects.exists()
