"""The insights page in a real browser: no axe violations in English or German, charts with accessible names and
their figures beside them, no script from elsewhere, and it fits a phone."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.insights.services import recount_shares, roll_up
from tests.factories import CustomerFactory, make_choice

from .test_support_console import sign_in, violations


@pytest.fixture
def rolled_up(transactional_db, catalog):
    for customer in CustomerFactory.create_batch(4):
        record_choices(
            customer=customer, choices=[make_choice("channel:sms")], provenance=Provenance("web", "customer")
        )
    record_choices(
        customer=CustomerFactory(locale="de"),
        choices=[make_choice("location", value={"level": "city"})],
        provenance=Provenance("web", "customer"),
    )
    roll_up(now=timezone.now() + timedelta(minutes=5))
    recount_shares()


@pytest.mark.parametrize(("language", "heading"), [("en", "What customers choose"), ("de", "Was Kundinnen")])
@pytest.mark.parametrize("width", [1280, 360])
def test_the_marketing_admin_reads_the_insights_page_with_no_violations(
    browser, live_server, rolled_up, language, heading, width
):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, live_server, role="marketing")
    context.set_extra_http_headers({"Accept-Language": language})  # signed in; now the page in this language
    page.goto(live_server.url + reverse("support:insights"))
    expect_heading = page.get_by_role("heading", level=1)
    assert expect_heading.inner_text().startswith(heading)
    charts = page.get_by_role("img")
    assert charts.count() >= 5
    assert all(charts.nth(i).get_attribute("aria-labelledby") for i in range(charts.count()))
    assert page.locator("table.data").count() >= charts.count()
    sources = page.eval_on_selector_all("script[src]", "scripts => scripts.map(s => s.src)")
    assert all(re.match(re.escape(live_server.url), source) for source in sources)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert violations(page) == []
    context.close()
