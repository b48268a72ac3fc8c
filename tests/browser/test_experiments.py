"""An experiment on the value exchange, in Chromium: two customers in different arms see different wording (B
with an example, A without), choose, and each one's receipt and proof show the words of their own variant;
axe-core on the staff pages."""

from django.urls import reverse
from playwright.sync_api import expect

from apps.consent.models import ConsentEvent
from apps.experiments import selectors, services
from tests.factories import CustomerFactory
from tests.support.conftest import make_staff

from .conftest import open_section
from .test_flows import link
from .test_support_console import new_page, sign_in, violations

PURPOSE = "topic:sales-and-offers"
OFFERS = {
    "A": ("Short, urgent news on your topics.", "Kurze, dringende Neuigkeiten zu Ihren Themen."),
    "B": (
        "Back-in-stock alerts in your size, never more than two a week.",
        "Hinweise, wenn Ihre Größe wieder da ist, höchstens zwei pro Woche.",
    ),
}
EXAMPLES = {
    "A": ("", ""),
    "B": (
        "“Your Fjell rain jacket in size M is back: 2 left.”",
        "„Ihre Regenjacke Fjell in Größe M ist wieder da.“",
    ),
}


def running_experiment():
    marketer = make_staff("marketing", username="marketer")
    experiment = services.create_experiment(
        staff=marketer,
        name="What convinces",
        purpose=PURPOSE,
        variants=services.variants_from_current(
            PURPOSE,
            [
                (
                    {
                        "en": {"what_you_get": OFFERS[label][0], "example": EXAMPLES[label][0]},
                        "de": {"what_you_get": OFFERS[label][1], "example": EXAMPLES[label][1]},
                    },
                    50,
                )
                for label in OFFERS
            ],
        ),
    )
    services.approve_experiment(experiment=experiment, staff=make_staff("officer", username="approver"))
    services.start_experiment(experiment=experiment, staff=marketer)
    return experiment


def one_customer_per_arm(experiment) -> dict:
    arms = {}
    while len(arms) < 2:
        customer = CustomerFactory()
        arms.setdefault(selectors.assigned_variant(experiment, customer.pk).label, customer)
    return arms


def test_two_customers_in_different_arms_see_choose_and_keep_their_own_wording(
    browser, live_server, demo_catalog
):
    experiment = running_experiment()
    arms = one_customer_per_arm(experiment)
    for label, customer in arms.items():
        mine, theirs = OFFERS[label][0], OFFERS["B" if label == "A" else "A"][0]
        page = new_page(browser)
        page.goto(link(live_server, customer))
        open_section(page, "topics")
        offers = page.locator("#topic-sales-and-offers")
        expect(offers).to_contain_text(mine)
        expect(offers).not_to_contain_text(theirs)
        example = EXAMPLES[label][0]
        expect(offers.locator(".example")).to_have_count(1 if example else 0)
        if example:
            expect(offers.locator(".example")).to_have_text(f"For example: {example}")
        page.locator("#topic-sales-and-offers-email").check()
        expect(page.locator("#status")).to_contain_text("Saved")
        event = ConsentEvent.objects.get(customer=customer, purpose=PURPOSE)
        assert event.notice_version == experiment.variants.get(label=label).notice_version
        receipt = page.request.get(live_server.url + reverse("preferences:receipt", args=[event.sequence]))
        assert mine in receipt.text()
        assert theirs not in receipt.text()
        assert receipt.json()["notice"]["text"]["example"] == example
        page.context.close()

    staff = new_page(browser)
    sign_in(staff, live_server, role="officer")
    for label, customer in arms.items():
        proof = staff.request.get(live_server.url + reverse("support:proof_json", args=[customer.pk]))
        assert OFFERS[label][0] in proof.text()
        assert OFFERS["B" if label == "A" else "A"][0] not in proof.text()
        [shown] = [notice for notice in proof.json()["notices"] if notice["notice_id"] == PURPOSE]
        assert shown["notice_content"]["en"].get("example", "") == EXAMPLES[label][0]
    for path in (reverse("support:experiments"), reverse("support:experiment", args=[experiment.pk])):
        staff.goto(live_server.url + path)
        assert violations(staff) == [], path
    expect(staff.locator(".verdicts")).to_contain_text("Not enough data yet")
    staff.context.close()
