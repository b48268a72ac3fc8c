"""axe-core in real Chromium on every customer page: no violations. Plus screenshots, CSP and page weight."""

import gzip
import json
import os
from pathlib import Path
from urllib.request import urlopen

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from django.utils import timezone

from apps.catalog.models import Notice, NoticeText, NoticeVersion
from apps.consent.rules import Provenance
from apps.consent.services import SentMessage, publish_notice_version, record_choices, record_messages
from apps.customers.links import CONFIRM_EMAIL, UNSUBSCRIBE, make_token
from tests.factories import CustomerFactory, make_choice

from .conftest import open_section

axe = Axe()


def violations(page):
    results = axe.run(page)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
    ]


@pytest.fixture
def customer(demo_catalog):
    customer = CustomerFactory(email="ava@example.com", phone="+441234567890")
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:email"),
            make_choice("topic:new-arrivals", value={"channels": ["email"]}),
            make_choice("location", value={"level": "city"}),
        ],
        provenance=Provenance(source="import", actor="import:test"),
    )
    # A sender reported a message, so the page shows what the customer got back.
    record_messages(
        sender="esp",
        messages=[SentMessage(customer.external_id, "email", "new-arrivals", "m-1", timezone.now())],
    )
    return customer


def customer_pages(live_server, customer):
    return {
        "home": "/",
        "start": reverse("preferences:start"),
        "request code": reverse("account_request_login_code"),
        "invalid link": reverse("preferences:link", args=["1:bad:bad"]),
        "page": reverse("preferences:page"),
        "history": reverse("preferences:history"),
        "leave": reverse("preferences:leave"),
        "unsubscribe": reverse(
            "preferences:unsubscribe",
            args=["channel:email", make_token(customer, UNSUBSCRIBE, "channel:email")],
        ),
        "confirm email": reverse("preferences:confirm_email", args=[make_token(customer, CONFIRM_EMAIL)]),
    }


def sign_in(live_server, page, customer):
    page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))


@pytest.mark.parametrize("language", ["en", "de"])
def test_axe_finds_no_violations_on_any_customer_page(live_server, page, customer, language):
    customer.locale = language
    customer.save()
    sign_in(live_server, page, customer)
    found = {}
    for name, path in customer_pages(live_server, customer).items():
        page.goto(live_server.url + path)
        problems = violations(page)
        if problems:
            found[name] = problems
    assert found == {}


def test_axe_finds_no_violations_on_the_re_ask_and_after_a_save(live_server, page, customer):
    texts = current_texts("location")
    version = NoticeVersion.objects.create(
        notice=Notice.objects.get(purpose="location"), number=2, material=True
    )
    for text in texts:
        NoticeText.objects.create(
            version=version, **{**text, "what_we_do": text["what_we_do"] + " Also events."}
        )
    publish_notice_version(version=version)
    sign_in(live_server, page, customer)
    open_section(page, "channels")
    page.locator("#channel-push").check()
    page.locator("#status").get_by_role("button", name="Undo").wait_for()
    assert page.locator("#reasks").is_visible()
    assert violations(page) == []


def current_texts(purpose):
    version = NoticeVersion.objects.filter(notice__purpose=purpose).order_by("-number").first()
    return [
        {field: getattr(text, field) for field in ("language", *NoticeText.WORDING_FIELDS)}
        for text in version.texts.all()
    ]


def test_screenshots_at_phone_and_desktop_width(live_server, browser, customer, tmp_path):
    for width, height in ((360, 800), (1280, 900)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(live_server, page, customer)
        # Nothing wider than the viewport: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        path = (
            (os.environ.get("SCREENSHOT_DIR") and Path(os.environ["SCREENSHOT_DIR"])) or tmp_path
        ) / f"preferences-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        context.close()


def test_a_strict_csp_is_sent_and_nothing_on_the_page_breaks_it(live_server, page, customer):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    response = page.goto(live_server.url + reverse("preferences:link", args=[make_token(customer)]))
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "script-src 'self'" in policy
    open_section(page, "channels")
    page.locator("#channel-push").check()
    page.locator("#status").get_by_text("Saved").wait_for()
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_the_first_load_is_at_most_60_kb_compressed(live_server, page, customer):
    sizes = {}

    def count(response):
        if response.url.startswith(live_server.url) and response.status == 200:
            sizes[response.url] = len(gzip.compress(response.body()))

    page.on("response", count)
    sign_in(live_server, page, customer)
    page.wait_for_load_state("load")
    assert sum(sizes.values()) <= 60 * 1024, json.dumps(sizes)
    own_js = [url for url in sizes if url.endswith(".js") and "htmx" not in url]
    assert own_js == [] or all(len(urlopen(url).read()) <= 2048 for url in own_js)  # noqa: S310
