import json
import time

import pytest

from apps.consent.models import InboundReport, PermissionDocument
from apps.delivery import services as delivery
from apps.delivery.models import Delivery
from apps.inbound.services import add_inbound_source, record_received
from tests.delivery.fake_braze import FakeBraze

from .conftest import ledger, twilio_post

pytestmark = pytest.mark.django_db

API_KEY = "braze-rest-key-for-tests"


@pytest.fixture
def fake_braze():
    fake = FakeBraze(API_KEY)
    yield fake
    fake.stop()


def currents(customer, group, status, source):
    return {
        "id": f"evt-{time.time_ns()}",
        "time": int(time.time()),
        "external_user_id": customer.external_id,
        "phone_number": customer.phone,
        "subscription_group_api_id": group,
        "channel": "sms",
        "subscription_status": status,
        "state_change_source": source,
    }


def test_a_change_pushed_to_braze_and_echoed_back_is_one_event_not_a_ping_pong(
    client, customer, fake_braze, eager_celery, django_capture_on_commit_callbacks
):
    delivery.add_destination(
        name="braze",
        kind="braze",
        endpoint=fake_braze.url,
        secret=API_KEY,
        options={"subscription_groups": {"sms:offers": "sg-offers"}},
    )
    new = add_inbound_source(
        name="braze-in", kind="braze", scopes={"sg-offers": {"channel": "sms", "topics": ["offers"]}}
    )

    def braze_posts(events):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                "/inbound/braze-in/",
                json.dumps({"events": events}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {new.secret}",
            )

    # The customer leaves the offers texts in Braze's preference center; Braze reports it.
    braze_posts([currents(customer, "sg-offers", "Unsubscribed", "preference center")])
    pushed = fake_braze.users[customer.external_id]["subscription_groups"]
    assert {"subscription_group_id": "sg-offers", "subscription_state": "unsubscribed"} in pushed
    versions, deliveries = (
        PermissionDocument.objects.filter(customer=customer).count(),
        Delivery.objects.count(),
    )

    # Candor's push lands in Braze through its REST API, and Braze reports that change too.
    braze_posts(
        [currents(customer, g["subscription_group_id"], g["subscription_state"], "REST API") for g in pushed]
    )

    assert len(ledger(customer, source="braze")) == 1
    assert PermissionDocument.objects.filter(customer=customer).count() == versions
    assert Delivery.objects.count() == deliveries


def test_a_stop_is_queued_for_recording_and_its_recording_for_every_destination_one_publish_each(
    client, customer, twilio, queued_tasks, django_capture_on_commit_callbacks
):
    twilio_post(client, twilio, Body="STOP")
    kept = InboundReport.objects.get()
    assert queued_tasks == [("apps.inbound.tasks.record_report", [kept.pk])]
    queued_tasks.clear()

    with django_capture_on_commit_callbacks(execute=True):
        record_received(kept.pk)

    # The priority push fans the outbox out itself: no routine fan-out is queued beside it.
    assert queued_tasks == [("apps.delivery.tasks.push_customer", [customer.pk])]


def test_a_resubscription_takes_the_routine_path(
    client, customer, twilio, queued_tasks, django_capture_on_commit_callbacks
):
    twilio_post(client, twilio, Body="STOP")
    twilio_post(client, twilio, Body="START")
    stop, start = InboundReport.objects.order_by("pk")
    record_received(stop.pk)
    queued_tasks.clear()

    with django_capture_on_commit_callbacks(execute=True):
        record_received(start.pk)

    assert [name for name, _ in queued_tasks] == ["apps.delivery.tasks.fan_out_outbox"]
