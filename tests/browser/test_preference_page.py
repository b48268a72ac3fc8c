from django.urls import reverse
from playwright.sync_api import expect

from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent
from apps.customers.links import make_token
from tests.factories import CustomerFactory

from .conftest import open_section


def link(live_server, customer):
    return live_server.url + reverse("preferences:link", args=[make_token(customer)])


def test_a_customer_changes_every_kind_of_preference_and_finds_it_kept(live_server, page, demo_catalog):
    customer = CustomerFactory(email="ava@example.com")
    page.goto(link(live_server, customer))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices")
    status = page.locator("#status")

    open_section(page, "channels")
    page.get_by_label("App notifications").first.check()
    expect(status).to_contain_text("Saved: App notifications")
    open_section(page, "topics")
    page.locator("#topic-new-arrivals-push").check()
    expect(status).to_contain_text("Saved: New arrivals")
    open_section(page, "frequency")
    page.get_by_label("Daily digest").check()
    expect(status).to_contain_text("Saved")
    open_section(page, "location")
    page.locator("#level-region").check()
    expect(status).to_contain_text("Saved: Your location")
    open_section(page, "personalization")
    page.locator("#depth-interests").check()
    expect(status).to_contain_text("Saved: Tailored suggestions")

    page.reload()
    for section in ("channels", "topics", "frequency", "location", "personalization"):
        open_section(page, section)
    expect(page.locator("#channel-push")).to_be_checked()
    expect(page.locator("#topic-new-arrivals-push")).to_be_checked()
    expect(page.locator("#digest-daily")).to_be_checked()
    expect(page.locator("#level-region")).to_be_checked()
    expect(page.locator("#depth-interests")).to_be_checked()

    events = ConsentEvent.objects.filter(customer=customer).order_by("sequence")
    assert [e.purpose for e in events] == [
        "channel:push",
        "topic:new-arrivals",
        "frequency",
        "location",
        "personalization",
    ]
    for event in events:
        assert event.notice_version_id == current_notice_version(event.purpose).pk
        assert event.source == "web"
        assert event.evidence["via"] == "htmx"


def test_undo_takes_back_the_last_change(live_server, page, demo_catalog):
    customer = CustomerFactory()
    page.goto(link(live_server, customer))
    open_section(page, "channels")
    page.locator("#channel-push").check()
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#status")).to_contain_text("Undone.")
    expect(page.locator("#status")).to_be_focused()  # not lost to <body> with the vanished button
    expect(page.locator("#channel-push")).not_to_be_checked()
    assert ConsentEvent.objects.filter(customer=customer).latest("sequence").state == "refused"


def test_the_page_works_without_javascript(live_server, browser, demo_catalog):
    customer = CustomerFactory()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(link(live_server, customer))
    open_section(page, "channels")
    page.locator("#channel-postal").check()
    page.locator("#channels").get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_contain_text("Saved: Post")
    expect(page.locator("#channel-postal")).to_be_checked()
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.purpose, event.evidence["via"]) == ("channel:postal", "form")
    context.close()


def test_keyboard_only_use_saves_a_choice(live_server, page, demo_catalog):
    customer = CustomerFactory()
    page.goto(link(live_server, customer))
    open_section(page, "channels")
    page.locator("#channel-phone").focus()
    page.keyboard.press("Space")
    expect(page.locator("#status")).to_contain_text("Saved: Phone call")
    assert page.evaluate("document.activeElement.id") == "channel-phone"


def test_required_topic_is_locked(live_server, page, demo_catalog):
    customer = CustomerFactory()
    page.goto(link(live_server, customer))
    open_section(page, "topics")
    expect(page.locator("#topic-order-updates-email")).to_be_disabled()
    expect(page.locator("#topic-order-updates")).to_contain_text("It carries no advertising.")
