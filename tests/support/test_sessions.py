"""Staff sessions end: 12 hours after sign-in at most, sooner when idle; erasure and exports want fresh proof."""

import time
from datetime import timedelta

import pytest
import time_machine
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from django.urls import reverse
from django.utils import timezone

from tests.test_settings import ROOT

from .conftest import sign_in


def test_a_staff_session_ends_twelve_hours_after_sign_in_however_busy(agent_client, settings):
    settings.STAFF_SESSION_IDLE_TIMEOUT = 24 * 3600  # only the absolute lifetime is at stake here
    search = reverse("support:search")
    assert agent_client.get(search).status_code == 200

    with time_machine.travel(timezone.now() + timedelta(hours=12, seconds=1)):
        response = agent_client.get(search)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in"))


def test_an_idle_staff_session_ends(agent_client, settings):
    search = reverse("support:search")
    assert agent_client.get(search).status_code == 200

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.STAFF_SESSION_IDLE_TIMEOUT + 1)):
        response = agent_client.get(search)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in"))


def test_a_staff_session_in_use_lives_on_within_the_lifetime(agent_client, settings):
    search = reverse("support:search")
    start = timezone.now()
    for minutes in (20, 40, 60):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            assert agent_client.get(search).status_code == 200


def test_the_settings_refuse_a_staff_session_longer_than_twelve_hours():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"],
        cwd=ROOT,
        env={"STAFF_SESSION_MAX_AGE": str(13 * 3600), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "STAFF_SESSION_MAX_AGE may be at most 12 hours" in result.stderr


def proved_ago(client, seconds: float, methods=("password", "mfa")):
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": method, "at": time.time() - seconds} for method in methods
    ]
    session.save()


@pytest.mark.parametrize("page", ["proof", "proof_json", "access_export", "erase"])
def test_erasure_and_exports_want_the_password_proved_again(client, officer, customer_with_history, page):
    sign_in(client, officer)
    proved_ago(client, 10 * 60)

    response = client.get(reverse(f"support:{page}", args=[customer_with_history.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_erasure_wants_the_code_proved_again_too(client, officer, customer_with_history):
    sign_in(client, officer)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time() - 10 * 60},
        {"method": "mfa", "at": time.time() - 10 * 60},
        {"method": "password", "at": time.time()},
    ]
    session.save()

    response = client.post(reverse("support:erase", args=[customer_with_history.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    customer_with_history.refresh_from_db()
    assert customer_with_history.erased_at is None


def test_reading_the_timeline_needs_no_fresh_proof(client, officer, customer_with_history):
    sign_in(client, officer)
    proved_ago(client, 10 * 60)

    assert client.get(reverse("support:timeline", args=[customer_with_history.pk])).status_code == 200
