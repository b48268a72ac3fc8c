"""Consent captured elsewhere keeps its own time, and never overrides a later choice for the same purpose."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.catalog.selectors import catalog_rules, current_notice_version
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Choice, Confirmation, Provenance
from apps.consent.selectors import (
    ledger_breaks,
    permission_document_at,
    replayed_snapshot_fields,
    superseded_consents,
)
from apps.consent.services import (
    evidence_hash,
    publish_legacy_notice_version,
    publish_notice_version,
    record_choices,
)
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]
WORDING = {
    "en": {
        "what_we_ask": "Join our list (old shop form).",
        "what_you_get": "News.",
        "what_we_do": "Email you.",
        "what_we_never_do": "Sell your address.",
    }
}


def record(customer, *choices, source="web", captured_at=None, **options):
    return record_choices(
        customer=customer,
        choices=list(choices),
        provenance=Provenance(source=source, actor="customer", captured_at=captured_at),
        **options,
    )


def imported(customer, *choices, captured_at, **options):
    return record_choices(
        customer=customer,
        choices=list(choices),
        provenance=Provenance(source="import", actor="import:shop", captured_at=captured_at),
        **options,
    )


def days_ago(days):
    return timezone.now() - timedelta(days=days)


def state(customer, purpose):
    return Snapshot.objects.get(customer=customer).choices[purpose]["state"]


def test_the_event_keeps_the_captured_time_beside_the_recording_time_and_hashes_both(catalog):
    customer = CustomerFactory()
    captured = days_ago(30)

    (event,) = record(customer, make_choice("channel:push"), source="api", captured_at=captured).events

    assert (event.captured_at, event.effective_at) == (captured, captured)
    assert event.recorded_at > captured
    assert f'"captured_at":"{captured.isoformat()}"' in event.canonical_bytes().decode()
    event.captured_at = captured - timedelta(seconds=1)
    assert event.compute_hash() != event.hash


def test_an_event_without_a_captured_time_hashes_as_before_it_existed(catalog):
    customer = CustomerFactory()

    (event,) = record(customer, make_choice("channel:push")).events

    assert "captured_at" not in event.canonical_bytes().decode()
    assert list(ledger_breaks()) == []


def test_a_captured_time_in_the_future_is_refused_and_nothing_is_written(catalog):
    customer = CustomerFactory()
    with pytest.raises(ValidationError, match="in the future"):
        record(
            customer,
            make_choice("channel:push"),
            source="api",
            captured_at=timezone.now() + timedelta(minutes=1),
        )
    assert not ConsentEvent.objects.exists()


def test_a_captured_time_before_the_configured_floor_is_refused(catalog, settings):
    settings.CONSENT_CAPTURED_AT_FLOOR = datetime(2015, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="earliest time"):
        record(
            CustomerFactory(),
            make_choice("channel:push"),
            source="api",
            captured_at=datetime(2014, 12, 31, tzinfo=UTC),
        )


def test_an_imported_opt_in_from_before_the_customers_withdrawal_is_history_only(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("channel:push"))
    record(customer, make_choice("channel:push", "withdrawn"))

    recorded = imported(customer, make_choice("channel:push"), captured_at=days_ago(10))

    assert recorded.history_only == tuple(recorded.events)
    assert not recorded.document_changed
    assert state(customer, "channel:push") == "withdrawn"
    assert Snapshot.objects.get(customer=customer).last_sequence == 3


def test_a_late_withdrawal_from_before_the_customers_newer_opt_in_changes_nothing(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("channel:push"))

    recorded = imported(customer, make_choice("channel:push", "withdrawn"), captured_at=days_ago(3))

    assert recorded.history_only
    assert state(customer, "channel:push") == "given"


def test_an_opt_in_captured_after_the_withdrawal_under_a_current_notice_gives_again(catalog):
    customer = CustomerFactory()
    with time_machine.travel(days_ago(20)):
        record(customer, make_choice("channel:push", "withdrawn"))

    recorded = imported(customer, make_choice("channel:push"), captured_at=days_ago(5))

    assert not recorded.history_only
    assert state(customer, "channel:push") == "given"


def test_an_opt_in_after_a_withdrawal_under_a_materially_superseded_notice_does_not_give_again(catalog):
    customer = CustomerFactory()
    old = current_notice_version("channel:push")
    record(customer, make_choice("channel:push", "withdrawn"))
    publish_notice_version(version=NoticeVersionFactory(notice=old.notice, material=True))

    recorded = record(customer, Choice("channel:push", "given", old.pk))

    assert recorded.history_only
    assert state(customer, "channel:push") == "withdrawn"


def test_point_in_time_answers_count_an_imported_event_from_when_it_was_captured(catalog):
    customer = CustomerFactory()
    imported(customer, make_choice("channel:push"), captured_at=days_ago(100))
    imported(customer, make_choice("channel:push", "withdrawn"), captured_at=days_ago(50))

    assert permission_document_at(customer, days_ago(101)).body["channels"]["push"]["allowed"] is False
    assert permission_document_at(customer, days_ago(75)).body["channels"]["push"]["allowed"] is True
    assert permission_document_at(customer, days_ago(25)).body["channels"]["push"]["allowed"] is False


def test_email_consent_with_proof_of_a_confirmation_made_elsewhere_is_given_at_once(catalog):
    customer = CustomerFactory()
    confirmed = Confirmation(confirmed_at=days_ago(9), ip_address="192.0.2.7")

    (event,) = record(
        customer, make_choice("channel:email"), source="api", captured_at=days_ago(10), confirmation=confirmed
    ).events

    assert event.state == "given"
    assert event.evidence == {
        "confirmed_at": confirmed.confirmed_at.isoformat(),
        "confirmation_ip_hash": evidence_hash("192.0.2.7"),
    }


def test_email_consent_without_proof_awaits_confirmation(catalog):
    (event,) = record(CustomerFactory(), make_choice("channel:email"), source="api").events
    assert event.state == "requested"


def test_proof_of_a_confirmation_needs_consent_to_a_double_opt_in_channel(catalog):
    with pytest.raises(ValidationError, match="double opt-in channel"):
        record(
            CustomerFactory(),
            make_choice("channel:push"),
            source="api",
            confirmation=Confirmation(days_ago(1)),
        )


def test_a_legacy_notice_is_never_the_current_version_and_stays_in_force_until_a_later_material_change(
    catalog,
):
    legacy = publish_legacy_notice_version(purpose="channel:push", source="shop", texts=WORDING)
    customer = CustomerFactory()
    imported(customer, Choice("channel:push", "given", legacy.pk), captured_at=days_ago(400))

    assert current_notice_version("channel:push").legacy_source == ""
    assert catalog_rules().published[legacy.pk].number == current_notice_version("channel:push").number
    assert Snapshot.objects.get(customer=customer).document.body["channels"]["push"]["allowed"] is True
    material = NoticeVersionFactory(notice=legacy.notice, material=True)
    assert publish_notice_version(version=material) == 1
    assert state(customer, "channel:push") == "invalidated"


def test_a_material_version_published_before_a_legacy_notice_does_not_supersede_it(catalog):
    notice = current_notice_version("channel:push").notice
    material = NoticeVersionFactory(notice=notice, material=True)
    publish_notice_version(version=material)
    legacy = publish_legacy_notice_version(purpose="channel:push", source="shop", texts=WORDING)
    customer = CustomerFactory()
    imported(customer, Choice("channel:push", "given", legacy.pk), captured_at=days_ago(4))

    assert not superseded_consents(version=material).exists()
    assert Snapshot.objects.get(customer=customer).document.body["channels"]["push"]["allowed"] is True


def test_a_source_gets_one_legacy_version_per_purpose(catalog):
    publish_legacy_notice_version(purpose="channel:push", source="shop", texts=WORDING)
    with pytest.raises(ValidationError, match="already has a legacy version"):
        publish_legacy_notice_version(purpose="channel:push", source="shop", texts=WORDING)


def test_history_only_events_replay_to_the_same_snapshot(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("channel:push", "withdrawn"))
    imported(customer, make_choice("channel:push"), captured_at=days_ago(2))

    snapshot = Snapshot.objects.get(customer=customer)
    assert snapshot.choices == replayed_snapshot_fields(customer.pk)["choices"]


def test_a_captured_time_with_another_offset_is_kept_in_utc_so_the_chain_verifies_after_reading_it_back(
    catalog,
):
    customer = CustomerFactory()
    berlin = datetime(2025, 6, 1, 14, 0, tzinfo=timezone.get_fixed_timezone(120))

    record(customer, make_choice("channel:push"), source="api", captured_at=berlin)

    assert ConsentEvent.objects.get(customer=customer).captured_at.isoformat() == "2025-06-01T12:00:00+00:00"
    assert list(ledger_breaks()) == []
