"""A customer with no number (or an old one) enters a mobile number on the page; only a verified one is kept."""

import pytest

from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import erase_customer
from apps.customers.services import mark_phone_verified
from apps.preferences import sms
from apps.preferences.services import sms_code_pending_for
from tests.factories import CustomerFactory, make_choice

from .conftest import nv, open_link

PAGE = "/preferences/"
NEW = "+491701234567"


@pytest.fixture
def no_number(catalog):
    return CustomerFactory(email="jane@example.com", phone="")


@pytest.fixture
def signed_in_without_number(client, no_number):
    open_link(client, no_number)
    return client


def send_code(client, phone=NEW, **extra):
    return client.post(PAGE, {"action": "send_sms_code", "phone": phone, **nv("channel:sms")}, **extra)


def code_in(text):
    return text["text"].split("code is ")[1][:6]


def test_the_page_offers_a_number_field_to_a_customer_without_one(signed_in_without_number):
    html = signed_in_without_number.get(PAGE).content.decode()
    assert 'name="phone"' in html
    assert "Your mobile number for texts" in html


def test_a_valid_number_gets_a_code_and_the_customer_is_not_yet_changed(signed_in_without_number, no_number):
    response = send_code(signed_in_without_number, "+49 170 123-4567")
    assert response.status_code == 302
    [text] = sms.outbox
    assert text["to"] == NEW
    no_number.refresh_from_db()
    assert (no_number.phone, no_number.phone_verified_at) == ("", None)
    assert not ConsentEvent.objects.filter(customer=no_number).exists()


def test_the_code_sent_is_announced_with_the_new_number_masked(signed_in_without_number):
    response = send_code(signed_in_without_number, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "We texted a code to +49 *** 67" in html
    assert 'id="sms-code"' in html
    assert NEW not in html


def test_the_right_code_keeps_the_number_verified_and_gives_texts(signed_in_without_number, no_number):
    send_code(signed_in_without_number)
    signed_in_without_number.post(PAGE, {"action": "verify_sms", "code": code_in(sms.outbox[0])})
    no_number.refresh_from_db()
    assert no_number.phone == NEW
    assert no_number.phone_verified_at is not None
    [event] = ConsentEvent.objects.filter(customer=no_number)
    assert (event.purpose, event.state, event.source) == ("channel:sms", "given", "web")
    assert event.evidence["verified"] == "phone number by code"
    assert Snapshot.objects.get(customer=no_number).document.body["channels"]["sms"]["allowed"] is True
    assert "+49 *** 67" in signed_in_without_number.get(PAGE).content.decode()


@pytest.mark.parametrize("bad", ["0170 1234567", "+49 170", "call me", ""])
def test_a_bad_number_is_a_form_error_and_writes_nothing(signed_in_without_number, no_number, bad):
    response = send_code(signed_in_without_number, bad)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter your mobile number with + and the country code" in html
    assert 'aria-invalid="true"' in html
    assert sms.outbox == []
    no_number.refresh_from_db()
    assert no_number.phone == ""
    assert not ConsentEvent.objects.filter(customer=no_number).exists()


def test_a_wrong_code_writes_nothing(signed_in_without_number, no_number):
    send_code(signed_in_without_number)
    code = code_in(sms.outbox[0])
    response = signed_in_without_number.post(
        PAGE, {"action": "verify_sms", "code": "000000" if code != "000000" else "111111"}
    )
    assert response.status_code == 400
    no_number.refresh_from_db()
    assert (no_number.phone, no_number.phone_verified_at) == ("", None)
    assert not ConsentEvent.objects.filter(customer=no_number).exists()


def test_switching_texts_on_without_a_number_asks_for_one(signed_in_without_number, no_number):
    response = signed_in_without_number.post(
        PAGE, {"section": "channels", "channel": ["sms"], **nv("channel:sms")}
    )
    assert response.status_code == 400
    assert "Enter your mobile number below" in response.content.decode()
    assert sms.outbox == []


def test_another_number_goes_through_the_identity_change_and_the_ledger_says_so(client, catalog):
    customer = CustomerFactory(phone="+491511234567")
    mark_phone_verified(customer=customer)
    from apps.consent.services import record_choices

    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="import", actor="import:t"),
    )
    open_link(client, customer)
    send_code(client)
    customer.refresh_from_db()
    assert customer.phone == "+491511234567"  # the old number keeps its texts until the new one is verified
    client.post(PAGE, {"action": "verify_sms", "code": code_in(sms.outbox[0])})
    customer.refresh_from_db()
    assert customer.phone == NEW
    assert customer.phone_verified_at is not None
    events = ConsentEvent.objects.filter(customer=customer, purpose="channel:sms").order_by("sequence")
    assert [(e.state, e.source) for e in events] == [
        ("given", "import"),
        ("withdrawn", "web"),
        ("given", "web"),
    ]
    assert "phone number changed" in events[1].evidence["reason"]


def test_codes_for_typed_numbers_keep_the_hourly_limit(signed_in_without_number, settings):
    for _ in range(settings.SMS_CODES_PER_HOUR):
        send_code(signed_in_without_number)
    response = send_code(signed_in_without_number)
    assert response.status_code == 400
    assert len(sms.outbox) == settings.SMS_CODES_PER_HOUR


def test_the_number_field_speaks_german_to_a_german_customer(client, catalog):
    customer = CustomerFactory(phone="", locale="de")
    open_link(client, customer)
    response = send_code(client, "0170")
    assert "Ihre Mobilnummer für SMS" in response.content.decode()
    assert "mit + und Ländervorwahl" in response.content.decode()


def test_a_code_for_the_number_on_record_ends_when_the_record_gets_another(signed_in, customer):
    from apps.consent.services import change_identity

    signed_in.post(PAGE, {"section": "channels", "channel": ["sms"], **nv("channel:sms")})
    change_identity(
        external_id=customer.external_id, email=customer.email, phone=NEW, source="api", actor="api:crm"
    )
    signed_in.post(PAGE, {"action": "verify_sms", "code": code_in(sms.outbox[0])})
    customer.refresh_from_db()
    assert customer.phone == NEW
    assert customer.phone_verified_at is None
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_erasure_forgets_a_number_waiting_for_its_code(signed_in_without_number, no_number):
    send_code(signed_in_without_number)
    assert sms_code_pending_for(no_number) is not None
    erase_customer(customer=no_number, source="support_agent", actor="staff:1")
    assert sms_code_pending_for(no_number) is None
