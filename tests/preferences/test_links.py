import time_machine
from django.core.management import call_command
from django.urls import reverse

from apps.customers.links import (
    PAGE,
    UNSUBSCRIBE,
    BatchLinks,
    list_unsubscribe_headers,
    make_token,
    rotate_link_key,
)
from tests.factories import CustomerFactory

from .conftest import open_link


def test_a_signed_link_opens_the_page_and_leaves_the_address_bar(client, customer):
    response = open_link(client, customer)
    assert response["Location"] == reverse("preferences:page")
    assert client.get(reverse("preferences:page")).status_code == 200


def test_a_tampered_link_is_refused(client, customer):
    token = make_token(customer)
    response = client.get(reverse("preferences:link", args=[token[:-2] + "xx"]))
    assert response.status_code == 400
    assert client.get(reverse("preferences:page")).status_code == 302


def test_a_link_for_one_customer_cannot_be_bent_to_another(client, customer):
    other = CustomerFactory()
    _, rest = make_token(customer).split(":", 1)
    response = client.get(reverse("preferences:link", args=[f"{other.pk}:{rest}"]))
    assert response.status_code == 400


def test_a_link_expires_after_thirty_days(client, customer, settings):
    with time_machine.travel("2026-01-01 12:00Z"):
        token = make_token(customer)
    with time_machine.travel("2026-01-31 11:00Z"):
        assert client.get(reverse("preferences:link", args=[token])).status_code == 302
    with time_machine.travel("2026-02-01 13:00Z"):
        assert client.get(reverse("preferences:link", args=[token])).status_code == 400


def test_rotating_the_key_revokes_links_and_open_sessions(client, customer):
    token = make_token(customer)
    open_link(client, customer)
    rotate_link_key(customer)
    assert client.get(reverse("preferences:page")).status_code == 302
    assert client.get(reverse("preferences:link", args=[token])).status_code == 400


def test_an_erased_customers_link_no_longer_opens(client, customer):
    token = make_token(customer)
    customer.erased_at = customer.created_at
    customer.save()
    assert client.get(reverse("preferences:link", args=[token])).status_code == 400


def test_a_page_link_is_not_an_unsubscribe_link(client, customer):
    token = make_token(customer, PAGE)
    response = client.post(
        reverse("preferences:unsubscribe", args=["channel:email", token]), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 400


def test_the_customer_link_command_prints_a_working_link(client, customer, capsys):
    call_command("customer_link", customer.email)
    url = capsys.readouterr().out.strip()
    assert url.startswith("http")
    path = url.split("//", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 302


def test_the_headers_command_prints_rfc_8058_headers(customer, capsys):
    call_command("list_unsubscribe_headers", customer.external_id, "--topic", "news")
    out = capsys.readouterr().out
    assert "List-Unsubscribe: <http" in out
    assert "/unsubscribe/topic:news/" in out
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in out


def test_list_unsubscribe_headers_point_at_a_scoped_token(customer):
    headers = list_unsubscribe_headers(customer, "channel:email").as_dict()
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert make_token(customer, UNSUBSCRIBE, "channel:email") in headers["List-Unsubscribe"]


def test_a_batch_signs_the_very_tokens_djangos_signer_makes_one_at_a_time(customer):
    with time_machine.travel("2026-03-01 12:00Z", tick=False):
        batch = BatchLinks()
        page, unsubscribe = (
            batch.page_url(customer.pk, customer.link_key),
            batch.unsubscribe_url(customer.pk, "topic:news"),
        )
        assert page.endswith(f"/{make_token(customer, PAGE)}/")
        assert f"/{make_token(customer, UNSUBSCRIBE, 'topic:news')}/" in unsubscribe


def test_the_language_switch_keeps_the_choice_and_refuses_foreign_redirects(signed_in):
    response = signed_in.post(
        reverse("preferences:language"), {"language": "de", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("preferences:home")
    assert response.cookies["django_language"].value == "de"
    assert "Ihre Auswahl" in signed_in.get(reverse("preferences:page")).content.decode()
