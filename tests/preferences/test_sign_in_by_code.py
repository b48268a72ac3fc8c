"""django-allauth's login by code, for customers: no password, no enumeration, rate limited."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from apps.customers.models import Customer

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
