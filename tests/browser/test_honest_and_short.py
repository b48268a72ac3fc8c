"""Honest states and a short page, in Chromium at phone and desktop width, in English and German, with axe."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.customers.links import make_token
from apps.preferences import sms
from tests.factories import CustomerFactory, make_choice

from .conftest import new_context_page, open_section

axe = Axe()
WIDTHS = [360, 1280]
LANGUAGES = ["en", "de"]
WORDS = {
    "en": {
        "waiting": "waiting for you to confirm",
        "resend": "Resend the link",
        "code": "waiting for the code",
        "new code": "Send a new code",
        "wording": "The wording you saw",
        "stays": "What stays on",
        "miss": "What you will no longer get",
        "glance": "Your choices at a glance",
        "email": "Email",
        "texts": "Text message (SMS)",
        "off": "off",
        "interests": "interests you tell us",
    },
    "de": {
        "waiting": "wartet auf Ihre Bestätigung",
        "resend": "Link erneut senden",
        "code": "wartet auf den Code",
        "new code": "Neuen Code senden",
        "wording": "Der Wortlaut, den Sie gesehen haben",
        "stays": "Was weiterhin kommt",
        "miss": "Was Sie nicht mehr bekommen",
        "glance": "Ihre Auswahl auf einen Blick",
        "email": "E-Mail",
        "texts": "SMS",
        "off": "aus",
        "interests": "Interessen, die Sie uns nennen",
    },
}


def violations(page):
    return [v["id"] for v in axe.run(page).response["violations"]]


def open_page(browser, live_server, customer, width, *, javascript=True):
    page = new_context_page(browser, width=width, javascript=javascript)
    page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))
    return page


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_an_address_awaiting_confirmation_shows_waiting_and_resend_not_a_tick(
    live_server, browser, demo_catalog, width, language
):
    customer = CustomerFactory(email="mia@example.com", locale=language)
    page = open_page(browser, live_server, customer, width)
    open_section(page, "channels")
    page.locator("#channel-email").check()
    channels = page.locator("#channels")
    expect(channels).to_contain_text(WORDS[language]["waiting"])
    expect(page.locator("#channel-email")).to_have_count(0)  # no ticked box while nothing is sent
    expect(page.locator("#summary")).to_contain_text(WORDS[language]["waiting"])
    assert violations(page) == []
    channels.get_by_role("button", name=WORDS[language]["resend"]).click()
    expect(page.locator("#status")).to_contain_text("m***@example.com")
    assert ConsentEvent.objects.get(customer=customer).state == "requested"  # resending records nothing
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_a_number_awaiting_its_code_shows_waiting_with_a_new_code_button(
    live_server, browser, demo_catalog, width, language
):
    customer = CustomerFactory(phone="+4915112345678", phone_verified_at=None, locale=language)
    page = open_page(browser, live_server, customer, width)
    open_section(page, "channels")
    page.locator("#channel-sms").check()
    channels = page.locator("#channels")
    expect(channels).to_contain_text(WORDS[language]["code"])
    expect(page.locator("#channel-sms")).to_have_count(0)
    assert violations(page) == []
    with page.expect_response(lambda response: response.request.method == "POST"):
        channels.get_by_role("button", name=WORDS[language]["new code"]).click()
    expect(page.locator("#status")).to_contain_text("+49 *** 78")
    assert len(sms.outbox) == 2
    assert not ConsentEvent.objects.filter(customer=customer).exists()
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_history_shows_the_wording_seen_on_request(live_server, browser, demo_catalog, width, language):
    customer = CustomerFactory(locale=language)
    record_choices(
        customer=customer,
        choices=[make_choice("channel:push")],
        provenance=Provenance(source="web", actor="customer"),
    )
    page = open_page(browser, live_server, customer, width)
    page.goto(live_server.url + reverse("preferences:history"))
    expect(page.locator("ol.timeline")).not_to_contain_text(re.compile(r"version \d|Version \d"))
    page.locator("ol.timeline summary").filter(has_text=WORDS[language]["wording"]).first.click()
    expect(page.locator("ol.timeline details dd").first).to_be_visible()
    assert violations(page) == []
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_leave_page_says_what_stays_on_and_what_stops_before_the_choice(
    live_server, browser, demo_catalog, width, language
):
    customer = CustomerFactory(locale=language)
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:push"),
            make_choice("topic:new-arrivals", value={"channels": ["push"]}),
        ],
        provenance=Provenance(source="web", actor="customer"),
    )
    page = open_page(browser, live_server, customer, width)
    page.goto(live_server.url + reverse("preferences:leave"))
    main = page.locator("main")
    expect(main).to_contain_text(WORDS[language]["stays"])
    expect(main).to_contain_text(WORDS[language]["miss"])
    expect(main.locator("li").filter(has_text=re.compile("New arrivals|Neuheiten"))).to_have_count(1)
    expect(main).to_contain_text(re.compile("Order and delivery updates|Bestell- und"))
    assert violations(page) == []
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_opens_with_a_one_screen_summary_linking_to_folded_sections(
    live_server, browser, demo_catalog, width, language
):
    customer = CustomerFactory(locale=language)
    page = open_page(browser, live_server, customer, width)
    summary = page.locator("#summary")
    expect(summary).to_contain_text(WORDS[language]["glance"])
    expect(summary).to_contain_text(f"{WORDS[language]['texts']}: {WORDS[language]['off']}")
    assert summary.bounding_box()["y"] + summary.bounding_box()["height"] <= 800  # within the first screen
    # The folded page: a few screens at most.
    assert page.evaluate("document.documentElement.scrollHeight") < 2600
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    expect(page.locator("#frequency-title")).to_be_visible()
    expect(page.locator("#quiet-start")).to_be_hidden()  # folded to its summary

    summary.get_by_role("link").filter(has_text=WORDS[language]["texts"]).click()
    expect(page.locator("#channel-sms")).to_be_visible()  # the link opened its section
    assert violations(page) == []
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_personalization_by_interests_says_it_uses_what_the_customer_tells_us_on_the_same_page(
    live_server, browser, demo_catalog, language
):
    customer = CustomerFactory(locale=language)
    page = open_page(browser, live_server, customer, 1280)
    open_section(page, "personalization")
    expect(page.locator("#depth-interests-text")).to_contain_text(WORDS[language]["interests"])
    expect(page.locator("section#profile")).to_be_attached()
    page.context.close()


def test_save_buttons_are_hidden_with_javascript_and_shown_without(live_server, browser, demo_catalog):
    customer = CustomerFactory()
    with_js = open_page(browser, live_server, customer, 1280)
    open_section(with_js, "frequency")
    expect(with_js.locator("#frequency button.save")).to_be_hidden()
    with_js.context.close()
    without_js = open_page(browser, live_server, customer, 1280, javascript=False)
    open_section(without_js, "frequency")
    expect(without_js.locator("#frequency button.save")).to_be_visible()
    without_js.context.close()
