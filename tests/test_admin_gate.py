"""The Django admin is no second door: the staff gate in front, the write path behind, every view logged."""

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.customers.services import ensure_login_account
from apps.delivery.models import Destination
from apps.support.models import StaffAccess
from tests.delivery.factories import DestinationFactory
from tests.factories import CustomerFactory, make_choice
from tests.support.conftest import TOTP_SECRET, add_totp, sign_in


@pytest.fixture
def superuser(db):
    user = get_user_model().objects.create_superuser("root", "root@staff.example", "correct horse battery")
    add_totp(user)
    return user


@pytest.fixture
def customer(catalog):
    customer = CustomerFactory(email="ada@example.com", phone="+4915112345678")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email"), make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    return customer


def test_anonymous_is_sent_to_the_staff_sign_in(client, db):
    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in"))


def test_the_admins_own_password_form_signs_nobody_in(client, superuser):
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": "correct horse battery", "next": "/admin/"}
    )

    assert response["Location"].startswith(reverse("support:sign_in"))
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_password_without_the_code_opens_no_admin_page(client, superuser):
    sign_in(client, superuser, methods=("password",))

    response = client.get(reverse("admin:customers_customer_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))


def test_staff_without_an_authenticator_open_no_admin_page(client, db):
    user = get_user_model().objects.create_superuser("new", "new@staff.example", "correct horse battery")
    sign_in(client, user, methods=("password",))

    assert client.get(reverse("admin:index")).status_code == 403


def test_password_and_code_open_the_admin(staff_client):
    assert staff_client.get(reverse("admin:index")).status_code == 200


def test_each_customer_in_an_admin_list_is_logged(staff_client, customer):
    other = CustomerFactory()

    staff_client.get(reverse("admin:customers_customer_changelist"))

    logged = StaffAccess.objects.filter(what=StaffAccess.What.ADMIN_VIEW)
    assert sorted(logged.values_list("customer_id", flat=True)) == sorted([customer.pk, other.pk])
    assert logged.first().detail.startswith("customers.customer customers_customer_changelist")


def test_a_ledger_row_opened_in_the_admin_is_logged_for_its_customer(staff_client, customer):
    event = ConsentEvent.objects.filter(customer=customer).first()

    staff_client.get(reverse("admin:consent_consentevent_change", args=[event.pk]))

    assert StaffAccess.objects.filter(what=StaffAccess.What.ADMIN_VIEW, customer=customer).count() == 1


def test_the_catalog_is_not_customer_data(staff_client, customer):
    staff_client.get(reverse("admin:catalog_topic_changelist"))

    assert not StaffAccess.objects.exists()


def change_customer(client, customer, **changes):
    data = {
        "external_id": customer.external_id,
        "email": customer.email,
        "phone": customer.phone,
        "name": customer.name,
        "locale": customer.locale,
        **changes,
    }
    return client.post(reverse("admin:customers_customer_change", args=[customer.pk]), data)


def test_a_new_email_in_the_admin_goes_through_the_write_path(staff_client, customer):
    response = change_customer(staff_client, customer, email="someone-else@example.com")

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "someone-else@example.com"
    assert Snapshot.objects.get(customer=customer).choices["channel:email"]["state"] == "requested"
    event = ConsentEvent.objects.filter(customer=customer).latest("sequence")
    assert (event.purpose, event.state, event.source) == ("channel:email", "requested", "support_agent")


def test_an_erased_customer_cannot_be_edited_in_the_admin(staff_client, customer):
    customer.erased_at = customer.created_at
    customer.save(update_fields=["erased_at"])

    assert change_customer(staff_client, customer, email="back@example.com").status_code == 403


def test_customers_are_not_deleted_in_the_admin(staff_client, customer):
    response = staff_client.post(
        reverse("admin:customers_customer_delete", args=[customer.pk]), {"post": "yes"}
    )

    assert response.status_code == 403


def test_the_admin_never_shows_a_totp_seed(staff_client):
    authenticator = Authenticator.objects.get(user__username="admin")

    response = staff_client.get(reverse("admin:mfa_authenticator_change", args=[authenticator.pk]))

    assert response.status_code == 200
    assert TOTP_SECRET not in response.content.decode()
    assert authenticator.data["secret"] not in response.content.decode()


def test_authenticators_are_not_added_in_the_admin(staff_client):
    assert staff_client.get(reverse("admin:mfa_authenticator_add")).status_code == 403


def test_customers_login_accounts_and_addresses_are_not_in_the_admin(staff_client, customer):
    account = ensure_login_account(customer=customer)

    listed = staff_client.get(reverse("admin:auth_user_changelist"))

    assert account not in listed.context["cl"].result_list
    assert staff_client.get(reverse("admin:auth_user_change", args=[account.pk])).status_code == 302
    assert not admin.site.is_registered(EmailAddress)


def test_a_destination_secret_is_never_shown_again(staff_client, db):
    destination = DestinationFactory()

    response = staff_client.get(reverse("admin:delivery_destination_change", args=[destination.pk]))

    assert response.status_code == 200
    assert destination.secret not in response.content.decode()


def destination_form(**changes):
    return {
        "name": "crm",
        "kind": "webhook",
        "endpoint": "https://crm.example/hooks",
        "options": "{}",
        "rate_limit": "0",
        "batch_size": "10",
        "purposes": "[]",
        "identifiers": '["external_id"]',
        "queue": "",
        "enabled": "on",
        **changes,
    }


def test_a_destination_added_in_the_admin_shows_its_new_secret_once(staff_client, db):
    response = staff_client.post(reverse("admin:delivery_destination_add"), destination_form(), follow=True)

    secret = Destination.objects.get(name="crm").secret
    assert secret.startswith("whsec_")
    assert secret in response.content.decode()
    assert secret not in staff_client.get(response.request["PATH_INFO"]).content.decode()


def test_the_admin_validates_a_destination_as_add_destination_does(staff_client, db):
    response = staff_client.post(
        reverse("admin:delivery_destination_add"), destination_form(identifiers='["external_id", "birthday"]')
    )

    assert response.status_code == 200
    assert "Unknown identifier(s): birthday." in response.content.decode()
    assert not Destination.objects.exists()


def test_a_secret_typed_into_the_admin_replaces_the_old_one(staff_client, db):
    destination = DestinationFactory(kind="braze", secret="old-key")

    staff_client.post(
        reverse("admin:delivery_destination_change", args=[destination.pk]),
        destination_form(name=destination.name, kind="braze", new_secret="new-key"),
    )

    destination.refresh_from_db()
    assert destination.secret == "new-key"
