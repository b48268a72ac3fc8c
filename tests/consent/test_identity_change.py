"""A new email address or phone number does not inherit the consent given for the old one."""

import pytest

from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import change_identity, record_choices
from apps.customers.services import customer_upsert, mark_phone_verified
from tests.factories import make_choice

pytestmark = pytest.mark.embedded


@pytest.fixture
def customer(catalog):
    """Confirmed email (by the double opt-in link) and texts to a verified number, plus a topic, for
    ada@example.com / +4915100000001."""
    customer, _ = customer_upsert(external_id="c-1", email="ada@example.com", phone="+4915100000001")
    mark_phone_verified(customer=customer)
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="email_link", actor="customer"),
    )
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:sms"),
            make_choice("topic:offers", value={"channels": ["email", "sms"]}),
        ],
        provenance=Provenance(source="web", actor="customer"),
    )
    return customer


def change(**identity):
    fields = {"email": "ada@example.com", "phone": "+4915100000001", **identity}
    return change_identity(external_id="c-1", source="api", actor="api:crm", **fields)[0]


def state(customer, purpose):
    return Snapshot.objects.get(customer=customer).choices[purpose]["state"]


def allowed(customer, channel):
    return Snapshot.objects.get(customer=customer).document.body["channels"][channel]["allowed"]


def new_events(customer, after):
    return list(ConsentEvent.objects.filter(customer=customer, sequence__gt=after).order_by("sequence"))


def test_a_new_email_address_puts_confirmed_email_consent_back_to_requested(customer):
    change(email="ada@example.org")
    assert state(customer, "channel:email") == "requested"


def test_email_is_not_allowed_once_the_address_changes(customer):
    change(email="ada@example.org")
    assert allowed(customer, "email") is False


def test_email_consent_awaiting_confirmation_of_the_old_address_now_awaits_the_new_one(catalog):
    customer, _ = customer_upsert(external_id="c-1", email="ada@example.com")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="web", actor="customer"),
    )
    change(email="ada@example.org", phone="")
    [event] = new_events(customer, after=1)
    assert (event.purpose, event.state) == ("channel:email", "requested")


def test_confirming_the_new_address_allows_email_again(customer):
    change(email="ada@example.org")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="email_link", actor="customer"),
    )
    assert allowed(customer, "email") is True


def test_removing_the_email_address_withdraws_email_consent(customer):
    change(email="")
    assert state(customer, "channel:email") == "withdrawn"


def test_the_same_email_address_in_other_case_or_spacing_changes_no_consent(customer):
    last = Snapshot.objects.get(customer=customer).last_sequence
    change(email="  Ada@Example.COM ")
    assert new_events(customer, after=last) == []


def test_a_new_phone_number_withdraws_sms_consent(customer):
    change(phone="+4915100000002")
    assert state(customer, "channel:sms") == "withdrawn"


def test_texts_are_not_allowed_once_the_number_changes(customer):
    change(phone="+4915100000002")
    assert allowed(customer, "sms") is False


def test_a_new_phone_number_leaves_email_consent_alone(customer):
    change(phone="+4915100000002")
    assert allowed(customer, "email") is True


def test_a_change_of_name_or_locale_changes_no_consent(customer):
    last = Snapshot.objects.get(customer=customer).last_sequence
    change(name="Ada Lovelace", locale="de")
    assert new_events(customer, after=last) == []


def test_the_pause_is_recorded_with_source_actor_and_the_reason(customer):
    last = Snapshot.objects.get(customer=customer).last_sequence
    change(email="ada@example.org", phone="+4915100000002")
    events = new_events(customer, after=last)
    assert [(e.purpose, e.source, e.actor) for e in events] == [
        ("channel:email", "api", "api:crm"),
        ("channel:sms", "api", "api:crm"),
    ]
    assert "new address" in events[0].evidence["reason"]
    assert "new number" in events[0].evidence["reason"]


def test_the_pause_is_pinned_to_the_notice_version_the_consent_was_given_under(customer):
    given_under = Snapshot.objects.get(customer=customer).choices["channel:email"]["notice_version"]
    change(email="ada@example.org")
    assert Snapshot.objects.get(customer=customer).choices["channel:email"]["notice_version"] == given_under


def test_creating_a_customer_records_no_consent(catalog):
    customer, created = change_identity(
        external_id="c-9", email="new@example.com", source="api", actor="api:crm"
    )
    assert created
    assert not ConsentEvent.objects.filter(customer=customer).exists()
