"""With JavaScript on, fields that belong together save together, and a refused save keeps what was typed."""

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from apps.consent.models import ConsentEvent
from apps.customers.links import make_token
from tests.factories import CustomerFactory

from .conftest import new_context_page, open_section

axe = Axe()
LABELS = {
    "en": {"saved": "Saved", "past": "The pause must end in the future."},
    "de": {"saved": "Gespeichert", "past": "Die Pause muss in der Zukunft enden."},
}


def frequency_events(customer):
    return list(ConsentEvent.objects.filter(customer=customer, purpose="frequency").order_by("sequence"))


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("width", [360, 1280])
def test_quiet_hours_and_a_pause_date_typed_with_javascript_on_are_both_saved(
    live_server, browser, demo_catalog, width, language
):
    customer = CustomerFactory(locale=language)
    page = new_context_page(browser, width=width)
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))
    open_section(page, "frequency")
    status = page.locator("#status")

    page.locator("#quiet-start").fill("22:00")  # half a pair: waits for its other half
    page.locator("#quiet-end").fill("07:00")
    expect(status).to_contain_text(LABELS[language]["saved"])
    until = (timezone.localdate() + timedelta(days=20)).isoformat()
    page.locator("#pause").select_option("until")  # waits for the date
    page.locator("#paused-until").fill(until)
    expect(page.locator("#frequency")).to_contain_text(until)  # "Paused until …" once saved

    expect(page.locator("#quiet-start")).to_have_value("22:00")
    expect(page.locator("#quiet-end")).to_have_value("07:00")
    assert axe.run(page).response["violations"] == []
    assert len(posts) == 2  # one save per completed pair, none for a half
    [quiet, pause] = frequency_events(customer)
    assert quiet.value["quiet_hours"]["start"] == "22:00"
    assert quiet.value["quiet_hours"]["end"] == "07:00"
    assert pause.value["paused_until"] == until
    assert pause.value["quiet_hours"] == quiet.value["quiet_hours"]
    page.context.close()


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_refused_pause_date_keeps_what_the_customer_typed_and_says_why(
    live_server, browser, demo_catalog, language
):
    customer = CustomerFactory(locale=language)
    page = new_context_page(browser)
    page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))
    open_section(page, "frequency")
    page.locator("#quiet-start").fill("21:30")
    page.locator("#weekly-cap").fill("3")
    page.locator("#weekly-cap").press("Tab")  # another field: saves, with quiet hours still half typed
    expect(page.locator("#frequency .errors")).to_be_visible()
    expect(page.locator("#quiet-start")).to_have_value("21:30")
    expect(page.locator("#weekly-cap")).to_have_value("3")

    page.locator("#quiet-start").fill("")  # the pair is whole again (both empty): the weekly limit saves
    expect(page.locator("#frequency .errors")).to_have_count(0)
    page.locator("#pause").select_option("until")
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    page.locator("#paused-until").fill(yesterday)
    expect(page.locator("#frequency .errors")).to_contain_text(LABELS[language]["past"])
    expect(page.locator("#pause")).to_have_value("until")
    expect(page.locator("#paused-until")).to_have_value(yesterday)
    expect(page.locator("#weekly-cap")).to_have_value("3")
    assert axe.run(page).response["violations"] == []
    assert [event.value.get("paused_until") for event in frequency_events(customer)] == [None]
    page.context.close()


def test_without_javascript_the_same_pair_saves_with_the_save_button(live_server, browser, demo_catalog):
    customer = CustomerFactory()
    page = new_context_page(browser, javascript=False)
    page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))
    open_section(page, "frequency")
    page.locator("#quiet-start").fill("22:00")
    page.locator("#quiet-end").fill("06:30")
    page.locator("#frequency").get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_contain_text("Saved")
    [event] = frequency_events(customer)
    assert event.value["quiet_hours"]["end"] == "06:30"
    page.context.close()
