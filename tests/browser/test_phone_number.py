"""A customer with no number on record switches texts on from their page: number, code, texts allowed."""

from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from apps.consent.models import ConsentEvent
from apps.customers.links import make_token
from apps.preferences import sms
from tests.factories import CustomerFactory

from .conftest import open_section

axe = Axe()


def violations(page):
    return [v["id"] for v in axe.run(page).response["violations"]]


def test_a_customer_without_a_number_enters_one_verifies_it_and_gets_texts(live_server, page, demo_catalog):
    customer = CustomerFactory(email="ava@example.com", phone="")
    page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))
    channels, status = page.locator("#channels"), page.locator("#status")
    open_section(page, "channels")

    page.get_by_label("Your mobile number for texts").fill("0170 1234567")
    channels.get_by_role("button", name="Text me a code").click()
    expect(channels.locator("#sms-phone-error")).to_contain_text("with + and the country code")
    expect(page.get_by_label("Your mobile number for texts")).to_have_attribute("aria-invalid", "true")
    assert violations(page) == []
    assert sms.outbox == []

    page.get_by_label("Your mobile number for texts").fill("+49 170 1234567")
    channels.get_by_role("button", name="Text me a code").click()
    expect(status).to_contain_text("We texted a code to +49 *** 67")
    [text] = sms.outbox
    assert text["to"] == "+491701234567"
    assert violations(page) == []

    page.get_by_label("Code from the text message").fill(text["text"].split("code is ")[1][:6])
    channels.get_by_role("button", name="Verify the number").click()
    expect(status).to_contain_text("Saved: ")
    expect(page.locator("#channel-sms")).to_be_checked()
    expect(channels).to_contain_text("+49 *** 67")
    assert violations(page) == []

    customer.refresh_from_db()
    assert customer.phone == "+491701234567"
    assert customer.phone_verified_at is not None
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.purpose, event.state, event.evidence["via"]) == ("channel:sms", "given", "htmx")
