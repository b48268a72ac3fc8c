"""What the customer got back: per purpose, what senders reported sending them for it in the last 90 days."""

import json
from datetime import UTC, datetime, timedelta

import time_machine
from django.urls import reverse

from apps.catalog.models import BenefitKind
from apps.consent.rules import Provenance
from apps.consent.services import SentMessage, record_choices, record_messages
from tests.factories import CustomerFactory, make_choice

from .conftest import open_link

PAGE = reverse("preferences:page")
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def texts_about_offers_with_three_alerts(customer):
    BenefitKind.objects.create(
        code="restock",
        label={"en": "back in stock in your size", "de": "wieder in Ihrer Größe da"},
        unit_one={"en": "alert", "de": "Hinweis"},
        unit_other={"en": "alerts", "de": "Hinweise"},
    )
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms"), make_choice("topic:offers", value={"channels": ["sms"]})],
        provenance=Provenance(source="web", actor="customer"),
    )
    sent = [NOW - timedelta(days=days) for days in (8, 30, 60, 120)]  # the last one is older than 90 days
    record_messages(
        sender="esp",
        messages=[
            SentMessage(customer.external_id, "sms", "offers", f"m-{index}", at, "restock")
            for index, at in enumerate(sent)
        ],
    )


@time_machine.travel(NOW, tick=False)
def test_the_page_says_what_the_customer_got_for_what_they_allowed(client, catalog):
    customer = CustomerFactory()
    texts_about_offers_with_three_alerts(customer)
    open_link(client, customer)
    html = client.get(PAGE).content.decode()
    assert "You allowed Sms about offers: 3 alerts, the last on 12 Nov." in html


@time_machine.travel(NOW, tick=False)
def test_the_page_says_it_in_german_too(client, catalog):
    customer = CustomerFactory(locale="de")
    texts_about_offers_with_three_alerts(customer)
    open_link(client, customer)
    html = client.get(PAGE).content.decode()
    assert "Sie haben Sms zu „offers“ erlaubt: 3 Hinweise, zuletzt am 12 Nov." in html


@time_machine.travel(NOW, tick=False)
def test_the_receipt_of_the_consent_carries_what_it_brought(client, catalog):
    customer = CustomerFactory()
    texts_about_offers_with_three_alerts(customer)
    open_link(client, customer)
    receipt = json.loads(client.get(reverse("preferences:receipt", args=[2])).content)
    assert receipt["services"][0]["purposes"][0]["purpose"] == "topic:offers"
    assert receipt["valueReceived"] == {
        "days": 90,
        "lines": ["You allowed Sms about offers: 3 alerts, the last on 12 Nov."],
    }


@time_machine.travel(NOW, tick=False)
def test_a_customer_who_got_nothing_sees_no_such_section(client, catalog):
    customer = CustomerFactory()
    open_link(client, customer)
    assert "What you got back" not in client.get(PAGE).content.decode()


@time_machine.travel(NOW, tick=False)
def test_messages_a_shared_location_brought_count_for_the_location(client, catalog):
    customer = CustomerFactory()
    BenefitKind.objects.create(
        code="nearby-event",
        label={"en": "an event near you"},
        unit_one={"en": "invitation to events near you"},
        unit_other={"en": "invitations to events near you"},
        purpose="location",
    )
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms"), make_choice("location", value={"level": "city"})],
        provenance=Provenance(source="web", actor="customer"),
    )
    record_messages(
        sender="esp",
        messages=[
            SentMessage(
                customer.external_id, "sms", "offers", f"m-{days}", NOW - timedelta(days=days), "nearby-event"
            )
            for days in (3, 9)
        ],
    )
    open_link(client, customer)
    html = client.get(PAGE).content.decode()
    assert "You shared your location (city): 2 invitations to events near you, the last on 17 Nov." in html
