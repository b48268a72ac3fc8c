"""A STOP answered at once is recorded by a real worker from the priority queue, or by beat's sweep when its queued
recording never reached one (the broker down when it came)."""

import pytest

from apps.consent.models import ConsentEvent, InboundReport
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.inbound.services import add_inbound_source
from tests.conftest import publishing_to
from tests.factories import CustomerFactory, make_choice
from tests.inbound.conftest import TWILIO_TOKEN, twilio_post

from .harness import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def texting_customer(catalog):
    customer = CustomerFactory(phone="+4915112345678")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="import", actor="import:reliability"),
    )
    return customer


@pytest.fixture
def texts(catalog):
    return add_inbound_source(name="texts", kind="twilio", signing_key=TWILIO_TOKEN).source


def recorded_stop(processes, by):
    """The STOP's report once recorded (within 30 s), printing the processes' logs if it never is."""
    try:
        return wait_until(
            lambda: InboundReport.objects.filter(outcome=InboundReport.Outcome.RECORDED).first(),
            timeout=30,
            message=f"{by} to record the STOP",
        )
    except AssertionError:
        print(processes.logs())
        raise


def test_a_stop_is_recorded_by_a_worker_on_the_priority_queue(
    client, texting_customer, texts, celery_processes, broker
):
    processes = celery_processes(INBOUND_SWEEP_AFTER_SECONDS="3600")  # the queue alone can record it

    with publishing_to(broker.url):
        response = twilio_post(client, texts, Body="STOP")

    assert b"no more texts" in response.content
    report = recorded_stop(processes, by="the worker")
    [event] = ConsentEvent.objects.filter(customer=texting_customer, source="twilio")
    assert report.ledger_events == [event.pk]
    assert event.state == "withdrawn"


def test_a_stop_received_while_the_broker_was_down_is_recorded_by_the_sweep(
    client, texting_customer, texts, celery_processes, unreachable_broker
):
    processes = celery_processes(INBOUND_SWEEP_SECONDS="0.5", INBOUND_SWEEP_AFTER_SECONDS="1")

    response = twilio_post(client, texts, Body="STOP")

    assert b"no more texts" in response.content
    report = recorded_stop(processes, by="the sweep")
    assert (report.recorded_at - report.received_at).total_seconds() >= 1
    assert ConsentEvent.objects.filter(customer=texting_customer, source="twilio", state="withdrawn").exists()
