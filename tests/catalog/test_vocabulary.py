"""The core vocabulary's types, without a database: purposes read once, the current notice version chosen by
one rule, snapshot entries read and written in one place, a destination's part of a document."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.catalog.purposes import Purpose, PurposeKind
from apps.catalog.selectors import CatalogRules, PublishedVersion
from apps.consent.documents import document_part
from apps.consent.entries import SnapshotEntry, entry_json
from apps.consent.models import ConsentEvent
from apps.consent.rules import derive_permissions

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def rules(*versions: PublishedVersion) -> CatalogRules:
    return CatalogRules(
        double_opt_in_channels=frozenset({"email"}),
        quiet_hours_channels=frozenset(),
        channels=("email", "sms"),
        topics={},
        options={},
        defaults={},
        gpc_purposes=frozenset(),
        noticed_purposes=frozenset(),
        published={version.id: version for version in versions},
    )


@pytest.mark.parametrize(
    ("key", "kind", "channel", "topic"),
    [
        ("channel:email", PurposeKind.CHANNEL, "email", None),
        ("topic:new-arrivals", PurposeKind.TOPIC, None, "new-arrivals"),
        ("frequency", PurposeKind.FREQUENCY, None, None),
        ("location", PurposeKind.LOCATION, None, None),
        ("personalization", PurposeKind.PERSONALIZATION, None, None),
    ],
)
def test_a_purpose_key_reads_into_its_parts_and_back(key, kind, channel, topic):
    purpose = Purpose.parse(key)

    assert (purpose.kind, purpose.channel_code, purpose.topic_slug) == (kind, channel, topic)
    assert purpose.key == str(purpose) == key


@pytest.mark.parametrize("key", ["newsletter", "channels:email", "topic", ""])
def test_an_unknown_key_still_parses_so_validation_can_name_it(key):
    purpose = Purpose.parse(key)

    assert (purpose.key, purpose.kind) == (key, "")


def test_the_current_version_is_the_newest_published_one_never_a_legacy_one():
    catalog = rules(
        PublishedVersion(1, "channel:email", 1, False, EPOCH),
        PublishedVersion(2, "channel:email", 2, True, EPOCH + timedelta(days=30)),
        PublishedVersion(3, "channel:email", 2, False, EPOCH + timedelta(days=60), legacy_source="shop"),
        PublishedVersion(4, "channel:sms", 0, False, EPOCH, legacy_source="shop"),
    )

    assert catalog.current_version("channel:email").id == 2
    assert catalog.current_version("channel:sms") is None
    assert {purpose: version.id for purpose, version in catalog.current_versions().items()} == {
        "channel:email": 2
    }


def test_only_a_double_opt_in_channel_needs_a_confirmation():
    catalog = rules()

    assert catalog.needs_double_opt_in(Purpose.channel("email"))
    assert not catalog.needs_double_opt_in(Purpose.channel("sms"))
    assert not catalog.needs_double_opt_in(Purpose.parse("frequency"))


def test_a_snapshot_entry_reads_back_what_the_event_wrote():
    recorded_at = EPOCH + timedelta(days=3)
    event = ConsentEvent(
        pk=7,
        sequence=2,
        purpose="topic:news",
        state="given",
        value={"channels": ["email", "sms"]},
        notice_version_id=4,
        language="de",
        recorded_at=recorded_at,
        captured_at=EPOCH,
        expires_at=recorded_at + timedelta(days=30),
    )

    entry = SnapshotEntry.from_json(entry_json(event))

    assert (entry.state, entry.channels, entry.notice_version, entry.event) == (
        "given",
        ["email", "sms"],
        4,
        7,
    )
    assert entry.effective_at == EPOCH
    assert entry.expiry == recorded_at + timedelta(days=30)
    assert (entry.is_given, entry.holds, entry.is_off) == (True, True, False)


def test_a_destination_limited_to_some_parts_sees_only_those_in_the_documents_shape():
    body = derive_permissions({}, rules(), EPOCH)

    assert document_part(body, frozenset({"sms", "location"})) == {
        "channels": {"sms": body["channels"]["sms"]},
        "location": body["location"],
    }
    assert document_part(body, frozenset()) == body
