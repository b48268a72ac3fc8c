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
