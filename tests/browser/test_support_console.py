"""The support console in real Chromium (Debian's, driven by Playwright): an agent's day, with and without
JavaScript, and axe-core on every staff page.

Chromium itself is the session's ``browser`` from ``tests/browser/conftest.py``.
"""

import re
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.urls import reverse
from django.utils import dateformat
from playwright.sync_api import expect

from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.delivery.models import Delivery
from apps.delivery.services import fan_out_outbox
from apps.support.services import invite_staff
from tests.delivery.factories import DestinationFactory
from tests.factories import CustomerFactory, make_choice
from tests.support.conftest import TOTP_SECRET, make_staff

axe = Axe()


def new_page(browser, *, javascript=True):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(30_000)  # a first page load can be slow on a busy 2-core CI machine
    return page


@pytest.fixture
def customer(transactional_db, catalog):
    customer = CustomerFactory(name="Ada Lovelace", email="ada@example.com", phone="+4915112345678")
    DestinationFactory(name="crm-webhook")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms"), make_choice("topic:offers", value={"channels": ["sms"]})],
        provenance=Provenance(source="web", actor="customer"),
    )
    return customer


def sign_in(page, live_server, role="agent"):
    user = make_staff(role)
    page.goto(live_server.url + reverse("support:search"))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    # The current step's code: the first counter allauth yields is already the previous step, which a step
    # boundary between here and the server's check would put out of its window.
    current = list(yield_hotp_counters_from_time())[settings.MFA_TOTP_TOLERANCE]
    page.get_by_label(re.compile("code", re.I)).first.fill(
        format_hotp_value(hotp_value(TOTP_SECRET, current))
    )
    page.get_by_role("button", name=re.compile("sign in|authenticate", re.I)).first.click()
    page.wait_for_url(re.compile(r"/support/"))
    return user


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_an_agent_finds_a_customer_reads_the_wording_and_records_a_phone_request(
    browser, live_server, customer, javascript
):
    page = new_page(browser, javascript=javascript)
    agent = sign_in(page, live_server)

    page.get_by_label("Email, phone, external id, or part of a name or email").fill("lovel")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=customer.external_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ada Lovelace")

    page.get_by_role("link", name="Consent timeline").click()
    page.get_by_text("Notice v1 as the customer saw it").first.click()
    expect(page.get_by_text("[en] May we? (topic:offers v1)")).to_be_visible()

    page.get_by_role("link", name="Record a change").click()
    page.get_by_role("group", name=re.compile(r"^channel:sms")).get_by_label("Answer").select_option("no")
    page.get_by_label("By phone").check()
    page.get_by_label("Note").fill("Asked by phone to stop all texts.")
    page.get_by_role("button", name="Record the change").click()

    page.wait_for_url(re.compile(r"/timeline/"))
    expect(page.get_by_role("status")).to_contain_text("Recorded 1 change(s)")
    newest = page.locator("li.event").first
    expect(newest).to_contain_text("Given → Withdrawn")
    expect(newest).to_contain_text("Asked by phone to stop all texts.")
    expect(newest).to_contain_text(f"staff #{agent.pk}")
    event = ConsentEvent.objects.filter(customer=customer).latest("sequence")
    assert (event.state, event.source, event.actor) == ("withdrawn", "support_agent", f"staff:{agent.pk}")

    # The new permission document's delivery state: on the timeline (htmx) or on the deliveries page.
    if not javascript:
        page.get_by_role("link", name="Deliveries").click()
    panel = page.locator("#delivery-panel")
    expect(panel).to_contain_text("Current permission document: version 2")
    expect(panel).to_contain_text("waiting in the outbox")
    fan_out_outbox()  # what the delivery worker does next
    page.goto(live_server.url + reverse("support:deliveries", args=[customer.pk]))
    expect(page.locator("#delivery-panel")).to_contain_text("version 2: Pending")
    page.context.close()


def test_the_timeline_filter_works_by_htmx(browser, live_server, customer):
    page = new_page(browser)
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("support:timeline", args=[customer.pk]))
    expect(page.locator("li.event")).to_have_count(2)
    page.get_by_label("Purpose").select_option("topic:offers")
    expect(page.locator("li.event")).to_have_count(1)
    assert "purpose=topic%3Aoffers" in page.url or "purpose=topic:offers" in page.url
    page.context.close()


def violations(page):
    results = axe.run(page)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
    ]


def test_axe_finds_no_violations_on_the_staff_pages(browser, live_server, customer):
    fan_out_outbox()
    Delivery.objects.filter(customer=customer).update(
        status="dead", last_status_code=500, last_error="HTTP 500"
    )
    page = new_page(browser)
    page.goto(live_server.url + reverse("support:sign_in"))
    found = {"sign in": violations(page)}
    sign_in(page, live_server, role="officer")
    agent_only = {
        "record a change": reverse("support:change", args=[customer.pk]),
        "deliveries with a retry button": reverse("support:deliveries", args=[customer.pk]),
        "timeline with its delivery panel": reverse("support:timeline", args=[customer.pk]),
    }
    pages = {
        "search results": reverse("support:search") + "?q=lovel",
        "customer": reverse("support:customer", args=[customer.pk]),
        "timeline": reverse("support:timeline", args=[customer.pk]),
        "deliveries": reverse("support:deliveries", args=[customer.pk]),
        "proof": reverse("support:proof", args=[customer.pk]),
        "erase": reverse("support:erase", args=[customer.pk]),
        "may we send": reverse("support:explain", args=[customer.pk]) + "?channel=sms&topic=offers",
        "access log": reverse("support:access_log"),
        "ledger": reverse("support:ledger"),
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        found[name] = violations(page)
    page.get_by_role("button", name="Verify now").click()
    found["ledger verified"] = violations(page)
    page.context.close()
    page = new_page(browser)
    sign_in(page, live_server, role="agent")
    for name, path in agent_only.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        found[name] = violations(page)
    page.goto(live_server.url + agent_only["record a change"])
    page.get_by_role("button", name="Record the change").click()
    found["record a change, with errors"] = violations(page)
    page.context.close()
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_a_new_staff_member_enrols_by_invitation_before_seeing_any_customer(browser, live_server, customer):
    user = make_staff("agent", username="newcomer", mfa=False)
    page = new_page(browser)
    page.goto(live_server.url + reverse("support:enrol", args=[invite_staff(staff=user)]))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    # allauth asks for the password once more before an authenticator may be added.
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/support/enrol/"))
    expect(page.get_by_text("Ada Lovelace")).to_have_count(0)
    assert violations(page) == []
    secret = page.locator("#totp-key").inner_text()
    page.get_by_label(re.compile("code", re.I)).first.fill(
        format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    )
    page.get_by_role("button", name="Set up").click()

    # Setting it up is not yet proving the factor in this session: the gate asks for a (fresh) code once.
    page.wait_for_url(re.compile(r"/accounts/2fa/reauthenticate/"))
    page.get_by_label(re.compile("code", re.I)).first.fill(
        format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    )
    page.get_by_role("button", name=re.compile("confirm|authenticate|sign in", re.I)).first.click()
    page.wait_for_url(re.compile(r"/support/"))
    page.goto(live_server.url + reverse("support:customer", args=[customer.pk]))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ada Lovelace")
    page.context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_back_after_opening_a_customer_from_htmx_search_results_shows_the_whole_search_page(
    browser, live_server, customer, width
):
    page = new_page(browser)
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server)
    page.get_by_label("Email, phone, external id, or part of a name or email").fill("lovel")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q=lovel"))  # htmx pushed the results' address
    page.get_by_role("link", name=customer.external_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ada Lovelace")

    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a customer")
    expect(page.get_by_role("link", name=customer.external_id)).to_be_visible()
    assert page.title() == "Find a customer · Candor support"
    assert page.locator("head link[rel=stylesheet]").count() == 2
    page.context.close()


def test_views_that_answer_htmx_with_a_fragment_say_so_in_vary(browser, live_server, customer):
    page = new_page(browser)
    sign_in(page, live_server)
    for path in (
        reverse("support:search") + "?q=lovel",
        reverse("support:timeline", args=[customer.pk]),
        reverse("support:deliveries", args=[customer.pk]),
    ):
        full = page.request.get(live_server.url + path)
        fragment = page.request.get(live_server.url + path, headers={"HX-Request": "true"})
        restore = page.request.get(
            live_server.url + path, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
        )
        assert "HX-Request" in full.headers["vary"]
        assert "<head>" in full.text()
        assert "<head>" not in fragment.text()
        assert "<head>" in restore.text()  # htmx restoring history after Back gets the whole page
    page.context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_an_agent_reads_times_in_their_own_zone_with_the_exact_value_on_hover_and_in_exports(
    browser, live_server, customer, width
):
    context = browser.new_context(viewport={"width": width, "height": 800}, timezone_id="America/New_York")
    page = context.new_page()
    page.set_default_timeout(30_000)  # a first page load can be slow on a busy 2-core CI machine
    sign_in(page, live_server, role="officer")
    page.goto(live_server.url + reverse("support:timeline", args=[customer.pk]))

    event = ConsentEvent.objects.filter(customer=customer).latest("sequence")
    local = event.recorded_at.astimezone(ZoneInfo("America/New_York"))
    shown = page.locator("li.event time").first
    expect(shown).to_have_text(dateformat.format(local, "j M Y, H:i:s T"))  # e.g. "30 Nov 2026, 16:05:09 EST"
    expect(shown).to_have_attribute("title", f"{local.isoformat(timespec='microseconds')} (America/New_York)")
    expect(shown).to_have_attribute("datetime", event.recorded_at.astimezone(UTC).isoformat())
    proof = page.request.get(live_server.url + reverse("support:proof_json", args=[customer.pk])).json()
    assert proof["events"][-1]["event_time"] == event.recorded_at.isoformat()  # exact, with its offset
    context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_every_console_page_fits_the_width_and_tables_stack_into_rows_on_a_phone(
    browser, live_server, customer, width
):
    page = new_page(browser)
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server, role="officer")
    for path in (
        reverse("support:search") + "?q=lovel",
        reverse("support:customer", args=[customer.pk]),
        reverse("support:timeline", args=[customer.pk]),
        reverse("support:proof", args=[customer.pk]),
        reverse("support:access_log"),
    ):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        row = page.locator("table.data tbody tr").first
        assert row.evaluate("row => getComputedStyle(row).display") == (
            "block" if width == 360 else "table-row"
        )
        assert violations(page) == [], path
    page.context.close()
