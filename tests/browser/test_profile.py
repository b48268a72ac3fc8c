"""Answering, changing and forgetting in "What you tell us", and removing an inference in "What we know about
you": in real Chromium at 360 px, in English and German, axe-clean, with htmx and without JavaScript."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from apps.consent.models import ConsentEvent
from apps.consent.services import report_inferences
from apps.customers.links import make_token
from apps.customers.models import Inference, ProfileAnswer
from tests.factories import RUNNER, CustomerFactory

from .conftest import new_context_page, open_section

SAVED = {"en": "Saved", "de": "Gespeichert"}
SAVE = {"en": "Save", "de": "Speichern"}
REMOVED = {"en": "Removed", "de": "Entfernt"}


@pytest.fixture
def customer(demo_catalog):
    customer = CustomerFactory(email="ava@example.com")
    report_inferences(customer=customer, inferences=[RUNNER])
    return customer


def open_page(browser, live_server, customer, language, *, javascript):
    customer.locale = language
    customer.save()
    page = new_context_page(browser, width=360, javascript=javascript)
    page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))
    for section in ("profile", "known"):
        open_section(page, section)
    return page


def answers(customer):
    return dict(ProfileAnswer.objects.filter(customer=customer).values_list("question", "answer"))


def checked_by_axe_at_360(page, javascript) -> None:
    """axe-core runs in the page, and nothing runs in a page without JavaScript: the markup is the same, so the
    htmx run checks it, and that nothing is wider than the 360 px screen."""
    if javascript:
        assert [violation["id"] for violation in Axe().run(page).response["violations"]] == []
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def save(page, language, javascript, section="#profile"):
    """Without JavaScript nothing happens until the section's Save; with it, every change saves itself."""
    if not javascript:
        page.locator(section).get_by_role("button", name=SAVE[language], exact=True).click()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
@pytest.mark.parametrize("language", ["en", "de"])
def test_a_customer_answers_changes_and_forgets_what_they_tell_us(
    live_server, browser, customer, language, javascript
):
    page = open_page(browser, live_server, customer, language, javascript=javascript)
    status = page.locator("#status")
    checked_by_axe_at_360(page, javascript)

    page.locator("#question-interests-hiking").check()
    save(page, language, javascript)
    expect(status).to_contain_text(SAVED[language])
    open_section(page, "profile")
    page.locator("#question-size-m").check()
    save(page, language, javascript)
    expect(page.locator("#question-size button.forget")).to_be_visible()
    assert answers(customer) == {"interests": ["hiking"], "size": ["m"]}

    open_section(page, "profile")
    page.locator("#question-size-l").check()
    save(page, language, javascript)
    expect(page.locator("#question-size-l")).to_be_checked()
    open_section(page, "profile")
    page.locator("#question-size").get_by_text(
        "Why we ask" if language == "en" else "Warum wir fragen"
    ).click()
    expect(page.locator("#question-size .why")).to_contain_text(
        "only show what fits" if language == "en" else "nur, was passt"
    )
    checked_by_axe_at_360(page, javascript)
    page.locator("#question-size button.forget").click()
    expect(page.locator("#question-size button.forget")).to_have_count(0)
    assert answers(customer) == {"interests": ["hiking"]}
    expect(page.locator("#question-size-l")).not_to_be_checked()

    via = {event.evidence["via"] for event in ConsentEvent.objects.filter(customer=customer)}
    assert via == {"htmx" if javascript else "form"}
    checked_by_axe_at_360(page, javascript)
    page.context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
@pytest.mark.parametrize("language", ["en", "de"])
def test_a_customer_sees_what_we_know_and_removes_an_inference(
    live_server, browser, customer, language, javascript
):
    page = open_page(browser, live_server, customer, language, javascript=javascript)
    known = page.locator("#known")
    expect(known).to_contain_text(RUNNER["label"][language])
    checked_by_axe_at_360(page, javascript)

    known.locator('button[value="wrong"]').click()

    expect(page.locator("#status")).to_contain_text(REMOVED[language])
    expect(page.locator("#known")).not_to_contain_text(RUNNER["label"][language])
    assert Inference.objects.get(customer=customer).removal == "wrong"
    checked_by_axe_at_360(page, javascript)
    page.context.close()
