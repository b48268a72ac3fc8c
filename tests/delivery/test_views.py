import pytest
from django.contrib.auth import get_user_model

from apps.delivery import selectors, services
from apps.delivery.adapters import Message
from apps.delivery.adapters.webhook import new_secret, signed_request
from apps.delivery.models import Delivery

from .conftest import grant_email
from .factories import DestinationFactory

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.DELIVERY_METRICS_TOKEN = TOKEN


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("staff", password="a long password 1", is_staff=True)


def test_metrics_answer_a_bearer_token_in_prometheus_format(client, metrics_token, customer):
    destination = DestinationFactory(name="crm")
    grant_email(customer)
    services.fan_out_outbox()

    response = client.get("/delivery/metrics", headers={"authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response["content-type"].startswith("text/plain; version=0.0.4")
    body = response.content.decode()
    assert f'candor_delivery_pending{{destination="{destination.name}",kind="webhook"}} 1' in body
    assert 'candor_delivery_dead{destination="crm",kind="webhook"} 0' in body
    assert "candor_outbox_undispatched 0" in body
    assert "# TYPE candor_delivery_oldest_pending_age_seconds gauge" in body


def test_metrics_tell_how_long_ago_the_sweeper_ran(client, metrics_token, db):
    services.note_sweep()

    response = client.get("/delivery/metrics", headers={"authorization": f"Bearer {TOKEN}"})

    line = next(
        line
        for line in response.content.decode().splitlines()
        if line.startswith("candor_delivery_sweeper_last_run_age_seconds ")
    )
    assert 0 <= float(line.split()[1]) < 60


def test_metrics_refuse_a_wrong_token(client, metrics_token, db):
    response = client.get("/delivery/metrics", headers={"authorization": "Bearer wrong"})

    assert response.status_code == 401


def test_metrics_refuse_anyone_when_no_token_is_configured(client, db):
    response = client.get("/delivery/metrics", headers={"authorization": "Bearer "})

    assert response.status_code == 401


def test_metrics_refuse_a_staff_session_without_the_token(client, staff):
    client.force_login(staff)  # a password-only session: it must not pass for the staff gate

    assert client.get("/delivery/metrics").status_code == 401


def test_metrics_refuse_post(client, metrics_token, db):
    assert client.post("/delivery/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 405


@pytest.fixture
def sandbox(settings, db):
    settings.DELIVERY_SANDBOX = True
    return DestinationFactory(name="sandbox")


def post_signed(client, destination, message):
    body, headers = signed_request(destination, message)
    return client.post(
        f"/delivery/sandbox/{destination.name}/hooks",
        data=body,
        content_type="application/json",
        headers=headers,
    )


MESSAGE = Message(
    id="msg_1",
    customer_id=1,
    version=1,
    payload={"type": "permissions.updated", "data": {"customer": {"external_id": "c-1"}, "version": 1}},
)


def test_the_sandbox_keeps_a_verified_webhook(client, sandbox):
    assert post_signed(client, sandbox, MESSAGE).status_code == 204

    assert [arrival["id"] for arrival in selectors.sandbox_arrivals(sandbox)] == ["msg_1"]


def test_the_sandbox_refuses_a_bad_signature(client, sandbox):
    forged = DestinationFactory.build(name="sandbox", secret=new_secret())

    assert post_signed(client, forged, MESSAGE).status_code == 401


def test_the_sandbox_receives_nothing_unless_switched_on(client, sandbox, settings):
    settings.DELIVERY_SANDBOX = False

    assert post_signed(client, sandbox, MESSAGE).status_code == 404


def test_the_admin_lists_destinations_with_their_counts(staff_client, customer):
    client = staff_client
    DestinationFactory(name="crm")
    grant_email(customer)
    services.fan_out_outbox()

    response = client.get("/admin/delivery/destination/")

    assert response.status_code == 200
    assert "crm" in response.content.decode()


def test_the_admin_replays_selected_dead_deliveries(staff_client, customer):
    client = staff_client
    DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()
    Delivery.objects.update(status="dead", attempts=10)
    dead = Delivery.objects.get()

    response = client.post(
        "/admin/delivery/delivery/", {"action": "replay", "_selected_action": [dead.pk]}, follow=True
    )

    assert "Replayed 1 dead deliveries." in response.content.decode()
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)


def test_the_admin_does_not_let_anyone_edit_a_delivery(staff_client, customer):
    client = staff_client
    DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()
    delivery = Delivery.objects.get()

    response = client.post(f"/admin/delivery/delivery/{delivery.pk}/change/", {"status": "delivered"})

    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == "pending"
