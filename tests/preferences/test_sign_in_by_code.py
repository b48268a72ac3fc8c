"""django-allauth's login by code, for customers: no password, no enumeration, rate limited."""

import io
import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from apps.consent.services import erase_customer
from apps.customers.models import Customer
from apps.customers.services import ensure_login_account
from tests.factories import CustomerFactory

REQUEST = reverse("account_request_login_code")
CONFIRM = reverse("account_confirm_login_code")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


def request_code(client, email):
    return client.post(REQUEST, {"email": email})


def test_a_known_customer_signs_in_with_the_emailed_code_and_reaches_their_page(client, customer):
    response = request_code(client, customer.email)
    assert response.status_code == 302
    [message] = mail.outbox
    code = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", message.body, re.MULTILINE).group(1)
    response = client.post(CONFIRM, {"code": code})
    assert response.status_code == 302
    page = client.get(reverse("preferences:page"))
    assert page.status_code == 200
    customer.refresh_from_db()
    assert customer.user is not None
    assert customer.user.has_usable_password() is False


def test_an_unknown_address_gets_the_same_answer_and_no_account(client, customer):
    known = request_code(client, customer.email)
    client.cookies.clear()
    unknown = request_code(client, "nobody@example.com")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert not get_user_model().objects.filter(email="nobody@example.com").exists()


def test_requests_for_one_address_are_rate_limited(client, customer):
    answers = []
    for _ in range(5):
        client.cookies.clear()  # a new visitor each time: the limit is per address, not per session
        answers.append(request_code(client, customer.email).status_code)
    assert answers[:3] == [302, 302, 302]
    assert answers[-1] == 200  # the form again, with "too many attempts"
    assert len(mail.outbox) == 3


def test_a_wrong_code_does_not_sign_in(client, customer):
    request_code(client, customer.email)
    client.post(CONFIRM, {"code": "WRONG1"})
    assert client.get(reverse("preferences:page")).status_code == 302


def test_an_erased_customer_cannot_sign_in(client, customer):
    Customer.objects.filter(pk=customer.pk).update(erased_at="2026-01-01T00:00Z")
    request_code(client, customer.email)
    assert not get_user_model().objects.exists()


def test_clients_behind_a_trusted_proxy_each_get_their_own_code_request_limit(client, customer, settings):
    """One proxy in front: every client arrives from its address, the client's own is the last hop it adds."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    answers = []
    for number in range(12):  # more than the 10 a minute one address may ask for
        client.cookies.clear()
        answer = client.post(
            REQUEST,
            {"email": f"visitor{number}@example.com"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{number}",
        )
        answers.append(answer.status_code)
    assert answers == [302] * 12


def test_one_client_behind_a_trusted_proxy_keeps_its_code_request_limit(client, customer, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    answers = []
    for number in range(12):
        client.cookies.clear()
        answer = client.post(
            REQUEST,
            {"email": f"visitor{number}@example.com"},
            REMOTE_ADDR="10.0.0.2",
            # What the client sent itself comes first and counts for nothing; the proxy appended the real one.
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}, 203.0.113.7",
        )
        answers.append(answer.status_code)
    assert answers[:10] == [302] * 10
    assert answers[-1] == 200  # the form again, with "too many attempts"


def sign_in_by_code(client, email):
    request_code(client, email)
    code = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", mail.outbox[-1].body, re.MULTILINE).group(1)
    assert client.post(CONFIRM, {"code": code}).status_code == 302
    return client


def test_no_mail_goes_to_an_address_without_a_customer(client, catalog):
    request_code(client, "nobody@example.com")
    assert mail.outbox == []


def test_a_staff_address_gets_no_login_code(client, catalog):
    get_user_model().objects.create_user("staff", "staff@example.com", "x" * 16, is_staff=True)
    request_code(client, "staff@example.com")
    assert mail.outbox == []


@pytest.mark.parametrize(
    "path",
    ["/accounts/email/", "/accounts/signup/", "/accounts/password/reset/", "/accounts/password/change/"],
)
def test_a_customer_signed_in_by_code_has_no_account_management_pages(client, customer, path):
    sign_in_by_code(client, customer.email)
    assert client.get(path).status_code == 404
    assert client.post(path, {"action_add": "", "email": "victim@example.com"}).status_code == 404


def test_a_code_signs_in_the_customer_whose_address_it_is_whatever_other_account_lists_it(client, catalog):
    attacker = CustomerFactory(email="mallory@example.com")
    victim = CustomerFactory(email="victim@example.com")
    # An address row on the attacker's login account, as allauth's email management page would let them add.
    EmailAddress.objects.create(
        user=ensure_login_account(customer=attacker), email=victim.email, verified=True, primary=False
    )
    sign_in_by_code(client, victim.email)
    assert client.get(reverse("preferences:page")).context["page"].customer == victim


def test_revoking_a_customers_links_ends_their_code_login_session(client, customer):
    sign_in_by_code(client, customer.email)
    call_command("customer_link", customer.email, "--revoke", stdout=io.StringIO(), stderr=io.StringIO())
    assert client.get(reverse("preferences:page")).status_code == 302


def test_erasure_ends_the_code_login_session_that_holds_the_address(client, customer):
    sign_in_by_code(client, customer.email)
    session_key = client.session.session_key
    assert customer.email in Session.objects.get(session_key=session_key).get_decoded().__repr__()
    erase_customer(customer=customer, source="support_agent", actor="staff:1")
    assert not Session.objects.filter(session_key=session_key).exists()
    assert client.get(reverse("preferences:page")).status_code == 302


@pytest.mark.parametrize(
    ("language", "subject", "greeting"),
    [
        ("en", "Your sign-in code for Bergwerk Outdoor", "Here is your sign-in code."),
        ("de", "Ihr Anmeldecode für Bergwerk Outdoor", "Hier ist Ihr Anmeldecode."),
    ],
)
def test_the_code_email_carries_the_configured_brand_in_text_and_html(
    client, customer, settings, language, subject, greeting
):
    settings.BRAND = {
        **settings.BRAND,
        "name": "Bergwerk Outdoor",
        "accent_colour": "#7a2e0e",
        "logo_url": "/static/bergwerk.svg",
        "support_email": "hilfe@bergwerk.example",
    }
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    request_code(client, customer.email)
    [message] = mail.outbox
    [(html, kind)] = message.alternatives
    assert (message.subject, kind) == (subject, "text/html")
    for body in (message.body, html):
        assert greeting in body
        assert "hilfe@bergwerk.example" in body
        assert re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", body)
        assert "Candor" not in body
    assert "#7a2e0e" in html
    assert f'src="{settings.SITE_URL}static/bergwerk.svg"' in html
