"""Each platform's export, in its documented shape, imports through the write path (PostgreSQL and SQLite)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core import mail

from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.selectors import ledger_breaks
from apps.consent.services import evidence_hash
from apps.customers.models import Customer
from apps.imports.models import ImportRow, ImportRun
from apps.imports.services import import_consents
from apps.support.selectors import consent_proof

from .conftest import FIXTURES

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]
MAP = str(FIXTURES / "topics.toml")


def states(email: str) -> dict:
    snapshot = Snapshot.objects.filter(customer__email=email).first()
    return {purpose: entry["state"] for purpose, entry in (snapshot.choices if snapshot else {}).items()}


def test_a_confirmed_mailchimp_subscriber_is_emailable_at_once_with_the_original_times_and_proof(
    legacy_notices, export
):
    import_consents(
        path=export("mailchimp_subscribed.csv"), fmt="mailchimp", source="mailchimp", map_path=MAP
    )

    ada = Customer.objects.get(email="ada@example.com")
    assert ada.permission_documents.last().body["channels"]["email"] == {
        **ada.permission_documents.last().body["channels"]["email"],
        "allowed": True,
        "topics": ["news"],
    }
    event = ada.consent_events.get(purpose="channel:email")
    assert event.state == "given"
    assert event.captured_at == datetime(2021, 3, 1, 10, 5, tzinfo=UTC)
    assert event.notice_version == legacy_notices["mailchimp", "channel:email"]
    assert event.evidence["confirmed_at"] == "2021-03-01T10:05:00+00:00"
    assert event.evidence["confirmation_ip_hash"] == evidence_hash("203.0.113.9")
    assert event.evidence["ip_hash"] == evidence_hash("203.0.113.5")
    run = ImportRun.objects.get(pk=event.evidence["import_run"])  # the run names the file; the event its row
    assert (run.file_name, event.evidence["row"]) == ("mailchimp_subscribed.csv", 1)


def test_a_single_opt_in_mailchimp_subscriber_waits_for_the_confirmation_mail_candor_sends(
    legacy_notices, export, django_capture_on_commit_callbacks, eager_celery
):
    with django_capture_on_commit_callbacks(execute=True):
        import_consents(
            path=export("mailchimp_subscribed.csv"), fmt="mailchimp", source="mailchimp", map_path=MAP
        )

    assert states("bob@example.com") == {"channel:email": "requested"}
    assert [message.to for message in mail.outbox] == [["bob@example.com"]]


def test_a_pending_mailchimp_member_gets_a_confirmation_mail(
    legacy_notices, export, django_capture_on_commit_callbacks, eager_celery
):
    with django_capture_on_commit_callbacks(execute=True):
        import_consents(path=export("mailchimp_members.csv"), fmt="mailchimp", source="mailchimp")

    assert states("pat@example.com") == {"channel:email": "requested"}
    assert [message.to for message in mail.outbox] == [["pat@example.com"]]


def test_bad_addresses_unknown_statuses_and_unmapped_lists_are_rejected_into_a_file_beside_the_input(
    legacy_notices, export
):
    path = export("mailchimp_subscribed.csv")

    summary = import_consents(path=path, fmt="mailchimp", source="mailchimp", map_path=MAP)

    assert summary.rejected == {"bad email address": 1, "unmapped list Knitting": 1}
    rejected = Path(summary.rejected_file).read_text().splitlines()
    assert rejected[0].endswith(",reason")
    assert [line.split(",")[0] for line in rejected[1:]] == ["not-an-email", "carol@example.com"]
    assert not Customer.objects.filter(email="carol@example.com").exists()


def test_a_mailchimp_unsubscribe_stays_put_and_the_earlier_opt_in_is_history(legacy_notices, export):
    import_consents(
        path=export("mailchimp_unsubscribed.csv"), fmt="mailchimp", source="mailchimp", map_path=MAP
    )

    dan = Customer.objects.get(email="dan@example.com")
    assert states("dan@example.com") == {"channel:email": "withdrawn"}
    assert [e.state for e in dan.consent_events.filter(purpose="channel:email")] == ["withdrawn", "given"]
    assert not dan.permission_documents.filter(body__channels__email__allowed=True).exists()


def test_a_cleaned_mailchimp_address_is_a_deliverability_flag_not_a_withdrawal(legacy_notices, export):
    import_consents(path=export("mailchimp_cleaned.csv"), fmt="mailchimp", source="mailchimp")

    erin = Customer.objects.get(email="erin@example.com")
    assert erin.email_undeliverable_at == datetime(2024, 2, 2, 2, 2, 2, tzinfo=UTC)
    assert states("erin@example.com") == {"channel:email": "given"}


def test_a_klaviyo_export_imports_consent_unsubscribes_and_suppressions(legacy_notices, export):
    summary = import_consents(path=export("klaviyo_profiles.csv"), fmt="klaviyo", source="klaviyo")

    assert states("kim@example.com") == {"channel:email": "requested"}
    assert states("lou@example.com") == {"channel:email": "withdrawn"}
    assert Customer.objects.get(email="max@example.com").email_undeliverable_at is not None
    assert states("max@example.com") == {}
    assert summary.rejected == {"unknown status": 1}


def test_a_braze_export_imports_channels_and_subscription_groups_at_the_export_time(legacy_notices, export):
    exported_at = datetime(2025, 1, 1, tzinfo=UTC)

    summary = import_consents(
        path=export("braze_users.csv"), fmt="braze", source="braze", map_path=MAP, exported_at=exported_at
    )

    assert states("fay@example.com") == {"channel:email": "requested", "channel:push": "given"}
    assert states("gus@example.com") == {"channel:email": "withdrawn", "topic:news": "withdrawn"}
    u3 = Customer.objects.get(external_id="u-3")
    assert u3.consent_events.get().captured_at == exported_at
    assert summary.rejected == {"unknown email_subscribe": 1}


def test_a_shopify_export_imports_email_and_sms_by_opt_in_level(legacy_notices, export):
    summary = import_consents(path=export("shopify_customers.jsonl"), fmt="shopify", source="shopify")

    assert states("hal@example.com") == {"channel:email": "given", "channel:sms": "given"}
    assert states("ida@example.com") == {"channel:email": "requested"}
    assert Customer.objects.get(email="kai@example.com").email_undeliverable_at is not None
    assert summary.rejected == {"redacted in Shopify (the customer was erased there)": 1}


def test_candors_own_line_format_imports_and_rejects_future_times_and_unknown_purposes(
    legacy_notices, export
):
    summary = import_consents(path=export("candor.ndjson"), fmt="ndjson", source="crm", map_path=MAP)

    assert states("ivy@example.com") == {"channel:email": "given", "topic:news": "given"}
    assert Customer.objects.get(external_id="crm-1").locale == "de"
    assert states("joy@example.com") == {"channel:push": "refused"}
    assert sum(summary.rejected.values()) == 2
    assert list(ledger_breaks()) == []


def test_every_imported_event_is_traced_to_its_run_file_and_row(legacy_notices, export):
    summary = import_consents(path=export("shopify_customers.jsonl"), fmt="shopify", source="shopify")

    rows = {row.row_number: row for row in ImportRow.objects.filter(run_id=summary.run_id)}
    for event in ConsentEvent.objects.filter(source="import"):
        assert event.evidence["import_run"] == summary.run_id
        assert rows[event.evidence["row"]].customer_id == event.customer_id


def test_the_proof_of_an_imported_consent_shows_the_legacy_wording_the_original_times_and_the_file_and_row(
    legacy_notices, export
):
    import_consents(
        path=export("mailchimp_subscribed.csv"), fmt="mailchimp", source="mailchimp", map_path=MAP
    )

    proof = consent_proof(Customer.objects.get(email="ada@example.com"), purpose="channel:email")

    (notice,) = proof["notices"]
    assert notice["legacy_source"] == "mailchimp"
    assert (
        notice["notice_content"]["en"]["what_we_ask"]
        == "Sign up for our emails (mailchimp form, channel:email)."
    )
    (event,) = proof["events"]
    assert (event["event_time"], event["captured_at"]) == (
        "2021-03-01T10:05:00+00:00",
        "2021-03-01T10:05:00+00:00",
    )
    assert event["recorded_at"] != event["captured_at"]
    run = ImportRun.objects.get(pk=event["evidence"]["import_run"])
    assert (run.file_name, event["evidence"]["row"]) == ("mailchimp_subscribed.csv", 1)
    assert event["evidence"]["confirmed_at"] == "2021-03-01T10:05:00+00:00"
    assert proof["ledger"]["verifies"] is True
