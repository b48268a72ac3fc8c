"""The demo's sandbox page shows what left Candor, customers' addresses included: staff only, never in production."""

import pytest
from django.urls import reverse

from apps.delivery.adapters import Message
from apps.delivery.adapters.webhook import signed_request
from tests.delivery.factories import DestinationFactory
from tests.test_settings import REAL_SECRET_KEY, load_production_settings

MESSAGE = Message(
    id="msg_1",
    customer_id=1,
    version=1,
    payload={
        "type": "permissions.updated",
        "data": {"customer": {"external_id": "c-1", "email": "c@x.example"}},
    },
)


@pytest.fixture
def sandbox(settings, db):
    settings.DELIVERY_SANDBOX = True
    return DestinationFactory(name="sandbox")


@pytest.fixture
def arrived(client, sandbox):
    body, headers = signed_request(sandbox, MESSAGE)
    response = client.post(
        reverse("delivery:sandbox_receive", args=["sandbox"]),
        data=body,
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 204


def test_the_sandbox_shows_staff_what_arrived(agent_client, arrived):
    page = agent_client.get(reverse("support:sandbox"))

    assert "c@x.example" in page.content.decode()
    assert "signature verified" in page.content.decode()


def test_the_sandbox_shows_nobody_without_the_staff_gate(client, arrived):
    response = client.get(reverse("support:sandbox"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("support:sign_in"))


def test_the_old_sandbox_address_is_gone(client, arrived):
    assert client.get("/delivery/sandbox/").status_code == 404


def test_the_sandbox_answers_htmx_with_the_arrivals_region_only(agent_client, arrived):
    response = agent_client.get(reverse("support:sandbox"), headers={"hx-request": "true"})

    assert response.content.decode().lstrip().startswith('<section id="arrivals"')


def test_the_sandbox_is_absent_unless_switched_on(agent_client, settings, db):
    settings.DELIVERY_SANDBOX = False
    DestinationFactory(name="sandbox")

    assert agent_client.get(reverse("support:sandbox")).status_code == 404


@pytest.mark.embedded
@pytest.mark.parametrize(
    "database", ["sqlite:////tmp/candor-sandbox-check.sqlite3", "postgres://u@127.0.0.1/x"]
)
def test_production_never_runs_the_sandbox_whatever_the_database(database):
    result = load_production_settings(
        "import django; django.setup(); from django.conf import settings; print(settings.DELIVERY_SANDBOX)",
        SECRET_KEY=REAL_SECRET_KEY,
        DATABASE_URL=database,
        DELIVERY_SANDBOX="true",
    )
    # Production either refuses to start with what it was given or starts without the sandbox.
    assert result.returncode != 0 or result.stdout.strip() == "False", result.stderr
