"""A report that changes choices is answered at once, kept as received, and recorded from the priority queue, or
by the sweep when its queued recording was lost."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.consent.models import InboundReport
from apps.consent.services import erase_customer
from apps.delivery.selectors import revocation_metrics
from apps.inbound.services import record_received, record_waiting
from apps.support.selectors.customers import review_queue
from tests.support.conftest import make_staff, sign_in

from .conftest import allowed, ledger, twilio_post

pytestmark = pytest.mark.django_db

Outcome = InboundReport.Outcome


def test_a_stop_is_answered_and_kept_as_received_before_the_ledger_takes_it(
    client, customer, twilio, queued_tasks
):
    response = twilio_post(client, twilio, Body="STOP")

    assert response.status_code == 200
    assert b"no more texts" in response.content
    kept = InboundReport.objects.get()
    assert (kept.outcome, kept.revocation, kept.recorded_at) == (Outcome.RECEIVED, True, None)
    assert ledger(customer, source="twilio") == []
    assert queued_tasks == [("apps.inbound.tasks.record_report", [kept.pk])]


def test_the_queued_recording_withdraws_texts_and_records_the_report_once(
    client, customer, twilio, queued_tasks
):
    twilio_post(client, twilio, Body="STOP")
    kept = InboundReport.objects.get()

    assert record_received(kept.pk) == Outcome.RECORDED
    assert record_received(kept.pk) is None  # delivered to a worker twice

    kept.refresh_from_db()
    [event] = ledger(customer, source="twilio")
    assert kept.ledger_events == [event.pk]
    assert kept.recorded_at >= kept.received_at
    assert not allowed(customer, "sms")["allowed"]


def test_a_start_waits_as_received_and_its_recording_re_grants_texts(client, customer, twilio, queued_tasks):
    twilio_post(client, twilio, Body="STOP")
    twilio_post(client, twilio, Body="START")
    stop, start = InboundReport.objects.order_by("pk")

    assert (start.outcome, start.revocation) == (Outcome.RECEIVED, False)
    assert [record_received(stop.pk), record_received(start.pk)] == [Outcome.RECORDED, Outcome.RECORDED]
    assert allowed(customer, "sms")["allowed"]


def test_the_sweep_records_only_what_waited_past_its_grace(client, customer, twilio, queued_tasks):
    twilio_post(client, twilio, Body="STOP")
    older = InboundReport.objects.get()
    twilio_post(client, twilio, Body="START")
    newer = InboundReport.objects.exclude(pk=older.pk).get()

    assert record_waiting(received_before=newer.received_at, limit=10) == 1

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.outcome, newer.outcome) == (Outcome.RECORDED, Outcome.RECEIVED)


def test_a_stop_is_answered_and_kept_while_the_broker_is_down_and_the_sweep_records_it(
    client, customer, twilio, unreachable_broker
):
    response = twilio_post(client, twilio, Body="STOP")

    assert response.status_code == 200
    assert b"no more texts" in response.content
    assert InboundReport.objects.get().outcome == Outcome.RECEIVED
    assert record_waiting(received_before=timezone.now(), limit=10) == 1
    assert not allowed(customer, "sms")["allowed"]


def test_a_waiting_report_of_a_customer_erased_since_records_nothing(client, customer, twilio, queued_tasks):
    twilio_post(client, twilio, Body="STOP")
    kept = InboundReport.objects.get()
    erase_customer(customer=customer, source="support_agent", actor="staff:1")
    events = len(ledger(customer))

    assert record_received(kept.pk) == Outcome.UNKNOWN_CUSTOMER
    assert len(ledger(customer)) == events


def test_the_metrics_count_a_revocation_waiting_for_the_ledger_and_one_past_its_deadline(
    client, customer, twilio, queued_tasks
):
    twilio_post(client, twilio, Body="STOP")
    kept = InboundReport.objects.get()

    on_time = revocation_metrics(now=timezone.now(), window=timedelta(days=7))
    late = revocation_metrics(now=kept.deadline_at + timedelta(minutes=1), window=timedelta(days=30))

    assert (on_time["waiting_for_ledger"], on_time["past_deadline"], on_time["recorded"]) == (1, 0, 0)
    assert (late["waiting_for_ledger"], late["past_deadline"]) == (1, 1)


def test_a_revocation_still_waiting_past_its_deadline_is_on_the_review_queue(
    client, customer, twilio, queued_tasks
):
    twilio_post(client, twilio, Body="STOP")
    kept = InboundReport.objects.get()

    with time_machine.travel(kept.deadline_at + timedelta(minutes=1)):
        [overdue] = review_queue().overdue
        page = sign_in(client, make_staff("agent")).get("/support/review/").content.decode()

    assert overdue.report == kept
    assert "Not recorded yet" in page
