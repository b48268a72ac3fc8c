"""The flows around the page, in Chromium: German, double opt-in, one-click unsubscribe, a material change."""

import re

from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from apps.catalog.models import Notice, NoticeText, NoticeVersion
from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import publish_notice_version, record_choices
from apps.customers.links import UNSUBSCRIBE, make_token
from tests.factories import CustomerFactory, make_choice

from .conftest import open_section


def link(live_server, customer):
    return live_server.url + reverse("preferences:link", args=[make_token(customer)])


def test_the_german_page_for_a_german_customer(live_server, page, demo_catalog):
    customer = CustomerFactory(locale="de")
    page.goto(link(live_server, customer))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Auswahl")
    open_section(page, "channels")
    expect(page.locator("#channels")).to_contain_text("Dürfen wir Ihnen E-Mails")
    page.locator("#channel-push").check()
    expect(page.locator("#status")).to_contain_text("Gespeichert: App-Benachrichtigungen")
    assert ConsentEvent.objects.get(customer=customer).language == "de"


def test_switching_the_language_on_the_page(live_server, page, demo_catalog):
    customer = CustomerFactory(locale="en")
    page.goto(link(live_server, customer))
    page.get_by_role("button", name="Deutsch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Auswahl")


def test_double_opt_in_by_the_emailed_link(live_server, page, demo_catalog):
    customer = CustomerFactory(email="mia@example.com")
    page.goto(link(live_server, customer))
    open_section(page, "channels")
    page.locator("#channel-email").check()
    expect(page.locator("#status")).to_contain_text("We sent a confirmation link to m***@example.com")
    expect(page.locator("#channels")).to_contain_text("waiting for you to confirm")
    assert ConsentEvent.objects.get(customer=customer).state == "requested"
    [message] = mail.outbox
    confirm_path = re.search(r"https?://[^/]+(/confirm-email/\S+)", message.body).group(1)
    page.goto(live_server.url + confirm_path)
    assert ConsentEvent.objects.filter(customer=customer).count() == 1  # opening the link changes nothing
    page.get_by_role("button", name="Yes, send me the emails I chose").click()
    expect(page.get_by_role("status")).to_contain_text("is confirmed")
    event = ConsentEvent.objects.filter(customer=customer).latest("sequence")
    assert (event.state, event.source) == ("given", "email_link")


def test_one_click_unsubscribe_by_post_and_a_get_that_changes_nothing(live_server, page, demo_catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="import", actor="import:t"),
    )
    url = live_server.url + reverse(
        "preferences:unsubscribe", args=["channel:email", make_token(customer, UNSUBSCRIBE, "channel:email")]
    )
    page.goto(url)
    expect(page.get_by_role("button", name="Unsubscribe")).to_be_visible()
    assert ConsentEvent.objects.filter(customer=customer).latest("sequence").state == "given"
    response = page.request.post(url, form={"List-Unsubscribe": "One-Click"})
    assert response.status == 200
    event = ConsentEvent.objects.filter(customer=customer).latest("sequence")
    assert (event.state, event.source) == ("withdrawn", "one_click_unsubscribe")


def test_a_material_change_asks_again(live_server, page, demo_catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("personalization", value={"depth": "activity"})],
        provenance=Provenance(source="web", actor="customer"),
    )
    old = NoticeVersion.objects.get(notice__purpose="personalization", number=1)
    texts = list(old.texts.all())
    new = NoticeVersion.objects.create(
        notice=Notice.objects.get(purpose="personalization"),
        number=2,
        material=True,
        change_summary={
            "en": "We now use your store visits too.",
            "de": "Wir nutzen jetzt auch Filialbesuche.",
        },
    )
    for text in texts:
        NoticeText.objects.create(
            version=new,
            language=text.language,
            what_we_ask=text.what_we_ask,
            what_you_get=text.what_you_get,
            what_we_do=text.what_we_do + " Also your store visits.",
            what_we_never_do=text.what_we_never_do,
        )
    publish_notice_version(version=new)
    page.goto(link(live_server, customer))
    reask = page.locator("#reasks")
    expect(reask).to_contain_text("We now use your store visits too.")
    expect(reask.locator("ins")).to_contain_text("Also your store visits.")
    open_section(page, "personalization")
    expect(page.locator("#depth-none")).to_be_checked()  # off until answered
    reask.get_by_role("button", name="Yes, keep it on").click()
    expect(page.locator("#reasks")).to_have_count(0)
    expect(page.locator("#depth-activity")).to_be_checked()
    event = ConsentEvent.objects.filter(customer=customer).latest("sequence")
    assert (event.state, event.notice_version_id) == ("given", new.pk)
