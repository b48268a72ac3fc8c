"""Every staff URL, for every role, a customer's session, anonymous, half-signed-in staff and the wrong method."""

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.timezone import now

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.customers.links import PAGE, make_token
from apps.customers.services import ensure_login_account, hold_message
from apps.delivery.models import Delivery
from apps.delivery.services import fan_out_outbox
from apps.experiments.services import VariantSpec, create_experiment
from apps.imports.models import ImportRun
from tests.delivery.factories import DestinationFactory
from tests.experiments.conftest import SHORT, STOCK
from tests.factories import CustomerFactory, make_choice

from .conftest import TOTP_SECRET, make_staff, sign_in

AGENT, OFFICER, MARKETING = "agent", "officer", "marketing"
# url name -> (needs a customer id, the roles allowed, the methods the page answers)
PAGES = {
    "search": (False, {AGENT, OFFICER}, {"GET"}),
    "customer": (True, {AGENT, OFFICER}, {"GET"}),
    "timeline": (True, {AGENT, OFFICER}, {"GET"}),
    "change": (True, {AGENT}, {"GET", "POST"}),
    "deliveries": (True, {AGENT, OFFICER}, {"GET"}),
    "explain": (True, {AGENT, OFFICER}, {"GET"}),
    "retry_delivery": (True, {AGENT}, {"POST"}),
    "proof": (True, {OFFICER}, {"GET"}),
    "proof_json": (True, {OFFICER}, {"GET"}),
    "access_export": (True, {OFFICER}, {"GET"}),
    "erase": (True, {OFFICER}, {"GET", "POST"}),
    "access_log": (False, {OFFICER}, {"GET"}),
    "ledger": (False, {OFFICER}, {"GET", "POST"}),
    "sandbox": (False, {AGENT, OFFICER}, {"GET"}),
    "sandbox_for": (False, {AGENT, OFFICER}, {"GET"}),
    "review": (False, {AGENT}, {"GET"}),
    "review_decide": (False, {AGENT}, {"POST"}),
    "imports": (False, {OFFICER}, {"GET", "POST"}),
    "import_run": (False, {OFFICER}, {"GET"}),
    "insights": (False, {OFFICER, MARKETING}, {"GET"}),
    "experiments": (False, {OFFICER, MARKETING}, {"GET"}),
    "experiment_new": (False, {MARKETING}, {"GET", "POST"}),
    "experiment": (False, {OFFICER, MARKETING}, {"GET"}),
    "experiment_approve": (False, {OFFICER}, {"POST"}),
    "experiment_start": (False, {MARKETING}, {"POST"}),
    "experiment_stop": (False, {MARKETING}, {"POST"}),
}
EXPERIMENT_PAGES = ("experiment", "experiment_approve", "experiment_start", "experiment_stop")


def test_the_matrix_covers_every_staff_url():
    from apps.support.urls import urlpatterns

    # The enrolment page is for a staff member who has no second factor yet (tests/support/test_enrolment.py).
    assert {pattern.name for pattern in urlpatterns} == set(PAGES) | {"sign_in", "enrol"}


@pytest.fixture
def urls(catalog, settings):
    """Every staff URL, about a customer with one dead delivery (for the retry action)."""
    settings.DELIVERY_SANDBOX = True
    customer = CustomerFactory()
    DestinationFactory(name="sandbox")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    fan_out_outbox()
    dead = Delivery.objects.get(customer=customer)
    Delivery.objects.filter(pk=dead.pk).update(status=Delivery.Status.DEAD, last_error="HTTP 500")
    urls = {
        name: reverse(f"support:{name}", args=[customer.pk] if needs else [])
        for name, (needs, _, _) in PAGES.items()
        if name not in ("retry_delivery", "sandbox_for", "review_decide", "import_run", *EXPERIMENT_PAGES)
    }
    urls["retry_delivery"] = reverse("support:retry_delivery", args=[customer.pk, dead.pk])
    urls["sandbox_for"] = reverse("support:sandbox_for", args=["sandbox"])
    held = hold_message(
        customer=customer,
        channel="sms",
        body="wrong number",
        origin="inbound:t",
        received_at=now(),
        deadline_at=now(),
    )
    urls["review_decide"] = reverse("support:review_decide", args=[held.pk])
    run = ImportRun.objects.create(
        source="mailchimp", format="mailchimp", file_name="a.csv", file_sha256="0" * 64, started_at=now()
    )
    urls["import_run"] = reverse("support:import_run", args=[run.pk])
    experiment = create_experiment(
        staff=make_staff("marketing", username="marketer"),
        name="Offers by email",
        purpose="topic:offers",
        variants=[VariantSpec(SHORT, 50), VariantSpec(STOCK, 50)],
    )
    urls.update({name: reverse(f"support:{name}", args=[experiment.pk]) for name in EXPERIMENT_PAGES})
    return urls


def opened(client, url, name):
    """The status of the page's own method: GET, or POST for a page that only takes POST (its redirect is 200)."""
    if "GET" in PAGES[name][2]:
        return client.get(url).status_code
    status = client.post(url).status_code
    return 200 if status == 302 else status


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role", [AGENT, OFFICER, MARKETING, None])
def test_each_role_opens_exactly_its_pages(client, urls, name, role):
    sign_in(client, make_staff(role))
    assert opened(client, urls[name], name) == (200 if role in PAGES[name][1] else 403)


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_sign_in(client, urls, name):
    response = client.generic(sorted(PAGES[name][2])[0], urls[name])
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in") + "?next=")


@pytest.mark.parametrize("name", PAGES)
def test_a_customer_session_never_opens_a_staff_page(client, urls, name):
    customer_user = get_user_model().objects.create_user(username="customer", email="c@example.com")
    sign_in(client, customer_user, methods=("code",))
    assert opened(client, urls[name], name) == 403
    assert client.post(urls[name]).status_code in (403, 405)


@pytest.mark.parametrize("name", PAGES)
def test_staff_without_totp_open_nothing_until_enrolled_by_invitation(client, urls, name):
    sign_in(client, make_staff(AGENT, mfa=False), methods=("password",))
    response = client.generic(sorted(PAGES[name][2])[0], urls[name])
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("methods", "sent_to"),
    [
        (("password",), "mfa_reauthenticate"),
        (("code", "mfa"), "account_reauthenticate"),
        ((), "account_reauthenticate"),
    ],
)
def test_staff_who_skipped_a_factor_in_this_session_must_prove_it(client, urls, methods, sent_to):
    sign_in(client, make_staff(OFFICER), methods=methods)
    for name, url in urls.items():
        response = client.generic(sorted(PAGES[name][2])[0], url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse(sent_to))


@pytest.mark.parametrize("name", PAGES)
def test_the_wrong_method_is_refused(client, urls, name):
    sign_in(client, make_staff(OFFICER))
    wrong = "POST" if "POST" not in PAGES[name][2] else ("PUT" if "GET" in PAGES[name][2] else "GET")
    assert client.generic(wrong, urls[name]).status_code == 405
    assert client.delete(urls[name]).status_code == 405


def test_signing_in_takes_a_password_and_a_totp_code(client, urls):
    make_staff(AGENT, username="jo")
    response = client.post(
        reverse("support:sign_in"),
        {"login": "jo@staff.example", "password": "correct horse battery", "next": urls["customer"]},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_authenticate"))
    assert client.get(urls["search"]).status_code == 302  # not signed in yet
    code = format_hotp_value(hotp_value(TOTP_SECRET, next(yield_hotp_counters_from_time())))
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == urls["customer"]
    assert client.get(urls["search"]).status_code == 200


def test_the_sign_in_page_asks_for_a_password(client, db):
    response = client.get(reverse("support:sign_in"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_a_wrong_password_opens_nothing(client, urls):
    make_staff(AGENT, username="jo")
    response = client.post(
        reverse("support:sign_in"), {"login": "jo@staff.example", "password": "wrong wrong wrong"}
    )
    assert response.status_code == 400
    assert client.get(urls["search"]).status_code == 302


def test_the_migration_gives_each_role_exactly_its_permissions(db):
    from django.contrib.auth.models import Group

    from apps.support.roles import ROLES

    for role, permissions in ROLES.items():
        held = Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename")
        assert sorted(f"{app}.{codename}" for app, codename in held) == sorted(permissions)


def test_a_customers_signed_link_opens_no_staff_page(client, urls):
    customer = CustomerFactory()
    response = client.get(reverse("preferences:link", args=[make_token(customer, PAGE)]))
    assert response.status_code in (200, 302)
    assert client.get(reverse("preferences:page")).status_code == 200  # the link did open the customer's page
    for name, url in urls.items():
        response = client.generic(sorted(PAGES[name][2])[0], url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("support:sign_in"))


def test_a_customers_login_account_opens_no_staff_page(client, urls):
    customer = CustomerFactory()
    sign_in(client, ensure_login_account(customer=customer), methods=("code",))
    for name, url in urls.items():
        assert opened(client, url, name) == 403
