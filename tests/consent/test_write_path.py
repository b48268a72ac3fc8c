import pytest
from django.core.exceptions import ValidationError

from apps.consent.models import GENESIS_HASH, ConsentEvent, OutboxEntry, PermissionDocument, Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import erase_customer, evidence_hash, record_choices
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


def record(customer, *choices, source="web", actor="customer", evidence=None, captured_at=None, **kwargs):
    provenance = Provenance(source=source, actor=actor, evidence=evidence, captured_at=captured_at)
    return record_choices(customer=customer, choices=list(choices), provenance=provenance, **kwargs)


def test_first_event_starts_the_chain_at_sequence_one(catalog):
    customer = CustomerFactory()
    recorded = record(customer, make_choice("channel:sms"))
    event = recorded.events[0]
    assert (event.sequence, event.prev_hash) == (1, GENESIS_HASH)
    assert event.hash == event.compute_hash()


def test_events_of_one_change_are_chained_in_order(catalog):
    customer = CustomerFactory()
    recorded = record(customer, make_choice("channel:sms"), make_choice("channel:push"))
    first, second = recorded.events
    assert second.sequence == 2
    assert second.prev_hash == first.hash


def test_a_later_change_continues_the_chain(catalog):
    customer = CustomerFactory()
    first = record(customer, make_choice("channel:sms")).events[0]
    later = record(customer, make_choice("channel:sms", "withdrawn")).events[0]
    assert (later.sequence, later.prev_hash) == (2, first.hash)


def test_snapshot_holds_the_latest_state_per_purpose(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("channel:sms"))
    record(customer, make_choice("channel:sms", "withdrawn"))
    snapshot = Snapshot.objects.get(customer=customer)
    assert snapshot.choices["channel:sms"]["state"] == "withdrawn"
    assert snapshot.last_sequence == 2


def test_a_change_of_permissions_writes_a_document_version_and_an_outbox_row(catalog):
    customer = CustomerFactory()
    recorded = record(customer, make_choice("channel:sms"))
    assert recorded.document_changed
    assert recorded.document.body["channels"]["sms"]["allowed"] is True
    assert OutboxEntry.objects.get().document == recorded.document


def test_an_answer_that_changes_no_permission_writes_no_new_document(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("channel:sms"))
    again = record(customer, make_choice("channel:sms"))
    assert not again.document_changed
    assert PermissionDocument.objects.filter(customer=customer).count() == 1
    assert ConsentEvent.objects.filter(customer=customer).count() == 2


def test_document_versions_count_up_per_customer(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("channel:sms"))
    recorded = record(customer, make_choice("channel:sms", "withdrawn"))
    assert recorded.document.version == 2
    assert recorded.document.body["channels"]["sms"]["allowed"] is False


def test_email_from_the_page_waits_for_confirmation(catalog):
    customer = CustomerFactory()
    recorded = record(customer, make_choice("channel:email"))
    assert recorded.events[0].state == "requested"
    assert recorded.document.body["channels"]["email"]["allowed"] is False


def test_confirming_the_email_link_gives_email_consent(catalog):
    customer = CustomerFactory()
    record(customer, make_choice("channel:email"))
    confirmed = record(customer, make_choice("channel:email"), source="email_link")
    assert confirmed.events[0].state == "given"
    assert confirmed.document.body["channels"]["email"]["allowed"] is True


def test_topics_are_allowed_only_on_channels_the_customer_allowed(catalog):
    customer = CustomerFactory()
    recorded = record(
        customer,
        make_choice("channel:sms"),
        make_choice("topic:offers", value={"channels": ["email", "sms"]}),
    )
    channels = recorded.document.body["channels"]
    assert channels["sms"]["topics"] == ["offers"]
    assert channels["email"]["topics"] == []


def test_required_topics_are_listed_whatever_was_chosen(catalog):
    customer = CustomerFactory()
    recorded = record(customer, make_choice("channel:push"))
    assert recorded.document.body["channels"]["sms"]["required_topics"] == ["orders"]
    assert recorded.document.body["channels"]["push"]["required_topics"] == []


def test_frequency_and_quiet_hours_reach_the_document(catalog):
    customer = CustomerFactory()
    quiet = {"start": "21:00", "end": "08:00", "timezone": "Europe/Berlin"}
    recorded = record(
        customer,
        make_choice("frequency", value={"digest": "daily", "weekly_cap": 3, "quiet_hours": quiet}),
    )
    sms, email = recorded.document.body["channels"]["sms"], recorded.document.body["channels"]["email"]
    assert (sms["frequency"], sms["weekly_cap"], sms["quiet_hours"]) == ("daily", 3, quiet)
    assert email["quiet_hours"] is None


def test_defaults_apply_until_the_customer_chooses(catalog):
    customer = CustomerFactory()
    body = record(customer, make_choice("channel:push")).document.body
    assert body["channels"]["push"]["frequency"] == "weekly"
    assert body["location"] == {"level": "off", "until": None}
    assert body["personalization"] == "none"


def test_ip_address_and_user_agent_are_kept_only_as_keyed_hashes(catalog):
    customer = CustomerFactory()
    event = record(
        customer, make_choice("channel:sms"), ip_address="203.0.113.9", user_agent="Firefox"
    ).events[0]
    assert event.evidence == {
        "ip_hash": evidence_hash("203.0.113.9"),
        "user_agent_hash": evidence_hash("Firefox"),
    }
    assert "203.0.113.9" not in str(event.evidence)


def assert_rejected_and_nothing_written(customer, *choices, expected, **kwargs):
    with pytest.raises(ValidationError) as error:
        record(customer, *choices, **kwargs)
    assert expected in str(error.value)
    assert not ConsentEvent.objects.filter(customer=customer).exists()
    assert not Snapshot.objects.filter(customer=customer).exists()
    assert not PermissionDocument.objects.filter(customer=customer).exists()


def test_unknown_purpose_is_rejected(catalog):
    customer = CustomerFactory()
    bogus = make_choice("channel:sms")
    bogus = bogus.__class__(
        purpose="topic:astrology", state="given", notice_version_id=bogus.notice_version_id
    )
    assert_rejected_and_nothing_written(customer, bogus, expected="Unknown purpose 'topic:astrology'")


def test_a_channel_the_topic_does_not_allow_is_rejected(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(),
        make_choice("topic:news", value={"channels": ["sms"]}),
        expected="This topic may not use sms",
    )


def test_a_value_outside_the_option_set_is_rejected(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(), make_choice("location", value={"level": "street"}), expected="level must be one of"
    )


def test_a_notice_version_that_is_not_published_is_rejected(catalog):
    from tests.factories import NoticeVersionFactory

    draft = NoticeVersionFactory(notice__purpose="channel:sms")
    bogus = make_choice("channel:sms").__class__(
        purpose="channel:sms", state="given", notice_version_id=draft.pk
    )
    assert_rejected_and_nothing_written(CustomerFactory(), bogus, expected="is not a published version")


def test_a_notice_version_of_another_purpose_is_rejected(catalog):
    other = make_choice("channel:push")
    bogus = other.__class__(purpose="channel:sms", state="given", notice_version_id=other.notice_version_id)
    assert_rejected_and_nothing_written(CustomerFactory(), bogus, expected="is not a published version")


def test_a_required_topic_cannot_be_switched_off(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(), make_choice("topic:orders", "withdrawn"), expected="is required"
    )


def test_one_bad_choice_rejects_the_whole_change(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(),
        make_choice("channel:sms"),
        make_choice("personalization", value={"depth": "everything"}),
        expected="depth must be one of",
    )


def test_only_the_system_records_expiry(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(), make_choice("location", "expired"), expected="Only the system records expired"
    )


def test_raw_ip_in_evidence_is_rejected(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(),
        make_choice("channel:sms"),
        evidence={"ip": "203.0.113.9"},
        expected="only keyed hashes",
    )


def test_malformed_quiet_hours_are_rejected(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(),
        make_choice(
            "frequency", value={"digest": "daily", "quiet_hours": {"start": "25:00", "end": "08:00"}}
        ),
        expected="quiet_hours.start must be a time HH:MM",
    )


def test_a_weekly_cap_out_of_range_is_rejected(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(),
        make_choice("frequency", value={"digest": "daily", "weekly_cap": 0}),
        expected="weekly_cap",
    )


def test_the_same_purpose_twice_in_one_change_is_rejected(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(), make_choice("channel:sms"), make_choice("channel:sms"), expected="appears twice"
    )


def test_an_unknown_source_is_rejected(catalog):
    assert_rejected_and_nothing_written(
        CustomerFactory(), make_choice("channel:sms"), source="carrier-pigeon", expected="Unknown source"
    )


def test_the_customer_picks_which_channels_carry_a_required_topic(catalog):
    customer = CustomerFactory()
    recorded = record(customer, make_choice("topic:orders", value={"channels": ["email"]}))
    assert recorded.document.body["channels"]["email"]["required_topics"] == ["orders"]
    assert recorded.document.body["channels"]["sms"]["required_topics"] == []


def test_nothing_more_is_recorded_for_an_erased_customer(catalog):
    customer = CustomerFactory()
    erase_customer(customer=customer, source="support_agent", actor="staff:1")
    with pytest.raises(ValidationError) as raised:
        record(customer, make_choice("channel:sms"), source="api", actor="api:crm")
    assert "customer" in raised.value.error_dict
    assert not ConsentEvent.objects.filter(customer=customer).exists()


@pytest.mark.parametrize("source", ["web", "api", "support_agent"])
def test_texts_are_given_only_for_a_verified_number(catalog, source):
    customer = CustomerFactory(phone_verified_at=None)
    with pytest.raises(ValidationError) as error:
        record(customer, make_choice("channel:sms"), source=source)
    assert "channel:sms" in error.value.message_dict
    assert not ConsentEvent.objects.filter(customer=customer).exists()


@pytest.mark.parametrize("source", ["import", "twilio"])
def test_a_source_that_proves_the_number_may_give_texts_for_an_unverified_one(catalog, source):
    customer = CustomerFactory(phone_verified_at=None)
    assert record(customer, make_choice("channel:sms"), source=source).events[0].state == "given"


def test_a_no_to_texts_needs_no_verified_number(catalog):
    customer = CustomerFactory(phone_verified_at=None)
    assert record(customer, make_choice("channel:sms", "refused")).events[0].state == "refused"
