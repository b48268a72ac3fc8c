"""Each revocation proven on time: received, recorded, acknowledged by every destination, against its deadline."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.consent.models import InboundReport
from apps.delivery import services as delivery
from apps.delivery.selectors import prometheus_metrics, revocation_metrics, revocation_progress
from tests.delivery.receiver import Receiver

from .conftest import twilio_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook(catalog, receiver):
    return delivery.add_destination(name="crm", kind="webhook", endpoint=receiver.url)


def deliver_everything(destination):
    delivery.fan_out_outbox()
    delivery.send_due(destination_id=destination.pk)


def test_a_stop_is_acknowledged_by_each_destination_in_its_proof(client, customer, twilio, webhook):
    twilio_post(client, twilio, Body="STOP")
    deliver_everything(webhook)

    [progress] = revocation_progress(InboundReport.objects.all())

    [ack] = progress.acknowledgements
    assert ack.destination == "crm"
    assert progress.report.received_at <= progress.report.recorded_at <= ack.acknowledged_at
    assert progress.all_acknowledged_at == ack.acknowledged_at
    assert not progress.past_deadline(timezone.now())


def test_a_revocation_no_destination_acknowledged_by_its_deadline_is_counted_past_it(
    client, customer, twilio, webhook
):
    twilio_post(client, twilio, Body="STOP")  # the destination never gets it

    with time_machine.travel(timezone.now() + timedelta(days=15)):
        metrics = revocation_metrics(now=timezone.now(), window=timedelta(days=30))

    assert metrics["past_deadline"] == 1
    assert metrics["unacknowledged"] == 1


def test_the_metrics_export_receipt_to_ledger_and_to_acknowledged(client, customer, twilio, webhook):
    twilio_post(client, twilio, Body="STOP")
    deliver_everything(webhook)

    text = prometheus_metrics()

    assert "candor_inbound_revocations_recorded 1" in text
    assert "candor_inbound_receipt_to_ledger_p95_seconds" in text
    assert "candor_inbound_receipt_to_acknowledged_p95_seconds" in text
    assert "candor_inbound_past_deadline 0" in text
