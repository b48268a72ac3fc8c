"""A staff member's first authenticator comes only through a single-use, expiring invitation link."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.support.services import invite_staff

from .conftest import make_staff, sign_in


def signed_in_with_password(client, user):
    """Signed in by password alone, and the password just proved again (allauth asks that before any new
    authenticator)."""
    sign_in(client, user, methods=("password",))
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY][0]["reauthenticated"] = True
    session.save()
    return client


def code_for(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


@pytest.fixture
def newcomer(db):
    return make_staff("agent", username="newcomer", mfa=False)


def enrol_page(client, token):
    """Open the enrolment page and hand back the key it offers (the form keeps it in the session)."""
    response = client.get(reverse("support:enrol", args=[token]))
    assert response.status_code == 200
    return response.context["form"].secret


def test_a_password_alone_enrols_no_authenticator(client, newcomer):
    signed_in_with_password(client, newcomer)
    response = client.get(reverse("mfa_activate_totp"))
    secret = response.context["form"].secret

    client.post(reverse("mfa_activate_totp"), {"code": code_for(secret)})

    assert not Authenticator.objects.filter(user=newcomer).exists()


def test_the_invitation_link_enrols_the_invited_account_once(client, newcomer):
    token = invite_staff(staff=newcomer)
    signed_in_with_password(client, newcomer)
    secret = enrol_page(client, token)

    response = client.post(reverse("support:enrol", args=[token]), {"code": code_for(secret)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=newcomer, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("support:enrol", args=[token])).status_code == 410


def test_a_wrong_code_enrols_nothing_and_keeps_the_link(client, newcomer):
    token = invite_staff(staff=newcomer)
    signed_in_with_password(client, newcomer)
    enrol_page(client, token)

    response = client.post(reverse("support:enrol", args=[token]), {"code": "000000"})

    assert response.status_code == 400
    assert not Authenticator.objects.filter(user=newcomer).exists()
    assert client.get(reverse("support:enrol", args=[token])).status_code == 200


def test_an_expired_link_enrols_nothing(client, newcomer, settings):
    token = invite_staff(staff=newcomer)
    signed_in_with_password(client, newcomer)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.STAFF_INVITE_MAX_AGE + 1)):
        assert client.get(reverse("support:enrol", args=[token])).status_code == 410


def test_a_new_link_ends_the_earlier_one(client, newcomer):
    first = invite_staff(staff=newcomer)
    invite_staff(staff=newcomer)
    signed_in_with_password(client, newcomer)

    assert client.get(reverse("support:enrol", args=[first])).status_code == 410


def test_the_link_is_for_the_invited_account_only(client, newcomer):
    token = invite_staff(staff=newcomer)
    signed_in_with_password(client, make_staff("agent", username="other", mfa=False))

    assert client.get(reverse("support:enrol", args=[token])).status_code == 410


def test_the_link_alone_asks_for_the_password_first(client, newcomer):
    token = invite_staff(staff=newcomer)

    response = client.get(reverse("support:enrol", args=[token]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in"))


def test_an_account_with_an_authenticator_is_not_invited(db):
    with pytest.raises(ValidationError, match="has an authenticator already"):
        invite_staff(staff=make_staff("agent"))


def test_the_command_prints_a_working_link(client, newcomer, capsys, settings):
    call_command("invite_staff", "newcomer@staff.example")

    url = capsys.readouterr().out.strip()
    assert url.startswith(settings.SITE_URL)
    signed_in_with_password(client, newcomer)
    assert client.get(urlsplit(url).path).status_code == 200
