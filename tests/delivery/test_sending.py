import time
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apps.delivery import services
from apps.delivery.adapters import Outcome
from apps.delivery.models import Delivery, DeliveryCursor
from apps.delivery.services import sending
from tests.factories import CustomerFactory

from .conftest import grant_email, withdraw_email
from .factories import DestinationFactory


@pytest.fixture
def destination(receiver):
    return DestinationFactory(endpoint=receiver.url)


def send(destination):
    services.fan_out_outbox()
    return services.send_due(destination_id=destination.pk)


def test_a_delivered_document_advances_the_cursor(customer, destination, receiver):
    recorded = grant_email(customer)

    report = send(destination)

    assert report.delivered == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert DeliveryCursor.objects.get().delivered_version == recorded.document.version


def test_the_payload_is_the_permission_document_with_its_provenance(customer, destination, receiver):
    recorded = grant_email(customer)

    send(destination)

    data = receiver.requests[0].json()["data"]
    assert data["customer"] == {"external_id": customer.external_id, "email": customer.email}
    assert data["version"] == recorded.document.version
    assert data["derived_from"] == recorded.document.derived_from
    assert data["channels"]["email"]["allowed"] is True
    assert data["location"] == {"level": "off", "until": None}
    assert data["personalization"] == "none"


def test_a_destination_receives_only_its_identifiers_and_purposes(customer, receiver):
    destination = DestinationFactory(endpoint=receiver.url, identifiers=["external_id"], purposes=["sms"])
    grant_email(customer)

    send(destination)

    data = receiver.requests[0].json()["data"]
    assert data["customer"] == {"external_id": customer.external_id}
    assert set(data["channels"]) == {"sms"}
    assert "location" not in data
    assert "personalization" not in data


def test_pending_versions_coalesce_so_only_the_latest_is_sent(customer, destination, receiver):
    grant_email(customer)
    latest = withdraw_email(customer)

    send(destination)

    assert [r.json()["data"]["version"] for r in receiver.requests] == [latest.document.version]
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["delivered", "superseded"]


def test_an_older_version_is_never_sent_after_a_newer_one_was_acknowledged(customer, destination, receiver):
    grant_email(customer)
    services.fan_out_outbox()
    older = Delivery.objects.get()
    withdraw_email(customer)
    send(destination)
    Delivery.objects.filter(pk=older.pk).update(status="pending")  # e.g. a replay of a stale row

    services.send_due(destination_id=destination.pk)

    assert len(receiver.requests) == 1
    assert Delivery.objects.get(pk=older.pk).status == "superseded"


def test_a_server_error_schedules_a_retry_in_the_database(customer, destination, receiver, retry_schedule):
    receiver.script.append((500, {}))
    grant_email(customer)
    before = timezone.now()

    send(destination)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert "HTTP 500" in delivery.last_error
    assert (
        before + timedelta(seconds=0.8) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=1.2)
    )


def test_a_retry_is_not_sent_before_it_is_due(customer, destination, receiver, retry_schedule):
    receiver.script.append((500, {}))
    grant_email(customer)
    send(destination)

    report = services.send_due(destination_id=destination.pk)

    assert report.claimed == 0
    assert len(receiver.requests) == 1


def test_retry_after_on_429_is_honoured_over_the_backoff(customer, destination, receiver, retry_schedule):
    receiver.script.append((429, {"Retry-After": "120"}))
    grant_email(customer)

    send(destination)

    delivery = Delivery.objects.get()
    assert delivery.next_attempt_at >= timezone.now() + timedelta(seconds=110)


def test_410_gone_disables_the_destination_and_keeps_the_delivery(customer, destination, receiver):
    receiver.script.append((410, {}))
    grant_email(customer)

    send(destination)

    destination.refresh_from_db()
    assert destination.enabled is False
    assert "410" in destination.disabled_reason
    assert Delivery.objects.get().status == "pending"


def test_other_4xx_is_dead_at_once(customer, destination, receiver, retry_schedule):
    receiver.script.append((400, {}))
    grant_email(customer)

    send(destination)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    assert "HTTP 400" in delivery.last_error


def test_a_delivery_is_dead_when_its_retries_run_out(customer, destination, receiver, retry_schedule):
    receiver.script.extend([(500, {})] * (len(retry_schedule) + 1))
    grant_email(customer)
    services.fan_out_outbox()

    with time_machine.travel(timezone.now(), tick=True) as clock:
        for _ in range(len(retry_schedule) + 1):
            services.send_due(destination_id=destination.pk)
            clock.shift(timedelta(seconds=10))

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("dead", len(retry_schedule) + 1)
    assert "HTTP 500" in delivery.last_error


def test_customers_at_different_versions_advance_their_own_cursors_in_one_batch(
    customer, destination, receiver
):
    other = CustomerFactory()
    grant_email(customer)
    send(destination)
    withdraw_email(customer)
    latest = {
        customer.pk: grant_email(customer).document.version,
        other.pk: grant_email(other).document.version,
    }

    report = send(destination)

    assert report.delivered == 2
    assert dict(DeliveryCursor.objects.values_list("customer_id", "delivered_version")) == latest
    assert latest[customer.pk] != latest[other.pk]


def test_a_newer_delivered_version_supersedes_the_dead_older_one_of_that_customer_only(
    customer, destination, receiver
):
    other = CustomerFactory()
    receiver.script.extend([(400, {}), (400, {})])
    grant_email(customer)
    grant_email(other)
    send(destination)
    withdraw_email(customer)

    send(destination)

    statuses = dict(Delivery.objects.filter(version=1).values_list("customer_id", "status"))
    assert statuses == {customer.pk: "superseded", other.pk: "dead"}


def test_a_replayed_dead_delivery_is_delivered(customer, destination, receiver):
    receiver.script.append((400, {}))
    grant_email(customer)
    send(destination)

    replayed = services.replay_dead(destination=destination)
    services.send_due(destination_id=destination.pk)

    assert replayed == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_an_unreachable_destination_is_retried(customer, retry_schedule):
    destination = DestinationFactory(endpoint="http://127.0.0.1:9/hooks")
    grant_email(customer)

    send(destination)

    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert "ConnectError" in delivery.last_error


def test_the_rate_limit_spaces_requests_across_windows(catalog, receiver):
    destination = DestinationFactory(endpoint=receiver.url, rate_limit=3)
    for customer in CustomerFactory.create_batch(9):
        grant_email(customer)
    services.fan_out_outbox()
    started = time.monotonic()

    services.send_due(destination_id=destination.pk)

    assert len(receiver.requests) == 9
    assert time.monotonic() - started >= 1.0  # 3 per one-second window: three windows at least


def test_a_hanging_destination_is_recorded_as_failing_within_the_batch_time(
    catalog, receiver, settings, retry_schedule
):
    settings.DELIVERY_HTTP_TIMEOUT = 0.3
    settings.DELIVERY_BATCH_SECONDS = 0.5
    settings.DELIVERY_SEND_THREADS = 1
    receiver.delay = 1.0
    destination = DestinationFactory(endpoint=receiver.url)
    for customer in CustomerFactory.create_batch(6):
        grant_email(customer)
    services.fan_out_outbox()

    report = services.send_due(destination_id=destination.pk)

    # The batch ended at its time, not after every hanging request: some were never started.
    attempted = Delivery.objects.filter(attempts=1)
    assert report.failed == attempted.count() >= 1
    assert all("Timeout" in d.last_error for d in attempted)
    assert Delivery.objects.filter(attempts=0, status="pending").count() == 6 - attempted.count() > 0


def test_an_error_answer_is_recorded_as_its_status_and_reason_never_its_body(customer, destination, receiver):
    receiver.script.append((500, {}))
    grant_email(customer)

    send(destination)

    assert Delivery.objects.get().last_error == "HTTP 500 Internal Server Error"


def test_retry_after_holds_back_the_whole_destination(catalog, receiver, retry_schedule, settings):
    settings.DELIVERY_SEND_THREADS = 1
    destination = DestinationFactory(endpoint=receiver.url)
    receiver.script.append((429, {"Retry-After": "120"}))
    for other in CustomerFactory.create_batch(3):
        grant_email(other)

    send(destination)

    assert len(receiver.requests) == 1  # the rest of the batch was not attempted
    destination.refresh_from_db()
    assert destination.held_until >= timezone.now() + timedelta(seconds=110)
    grant_email(CustomerFactory())
    assert send(destination).claimed == 0
    assert len(receiver.requests) == 1


def test_a_destination_that_answers_again_gets_its_waiting_retries_at_once(catalog, receiver, retry_schedule):
    destination = DestinationFactory(endpoint=receiver.url)
    waiting, fresh = CustomerFactory(), CustomerFactory()
    grant_email(waiting)
    services.fan_out_outbox()
    Delivery.objects.update(attempts=2, next_attempt_at=timezone.now() + timedelta(minutes=5))
    grant_email(fresh)

    report = send(destination)

    assert report.delivered == 1
    assert report.more
    assert Delivery.objects.get(customer=waiting).next_attempt_at <= timezone.now()


class ExplodingAdapter:
    """Raises on one customer's chunk, as a broken client library would."""

    per_request = 1
    thread_safe = True
    default_rate_limit = 0.0
    default_batch_size = 10

    def __init__(self, broken_customer_id):
        self.broken_customer_id = broken_customer_id

    def send(self, destination, messages):
        if messages[0].customer_id == self.broken_customer_id:
            raise RuntimeError("frame corrupted")
        return [Outcome(delivered=True, status_code=200) for _ in messages]

    def close(self):
        pass


def test_an_adapter_that_raises_fails_its_chunk_and_the_rest_are_recorded(
    catalog, monkeypatch, retry_schedule
):
    destination = DestinationFactory()
    broken, healthy = CustomerFactory(), CustomerFactory()
    grant_email(broken)
    grant_email(healthy)
    monkeypatch.setattr(sending, "adapter_for", lambda kind: ExplodingAdapter(broken.pk))

    report = send(destination)

    assert (report.delivered, report.failed) == (1, 1)
    assert Delivery.objects.get(customer=healthy).status == "delivered"
    failed = Delivery.objects.get(customer=broken)
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert failed.last_error == "RuntimeError: frame corrupted"


def test_an_adapter_that_always_raises_ends_dead_with_its_error(customer, monkeypatch, retry_schedule):
    destination = DestinationFactory()
    grant_email(customer)
    monkeypatch.setattr(sending, "adapter_for", lambda kind: ExplodingAdapter(customer.pk))
    services.fan_out_outbox()

    with time_machine.travel(timezone.now(), tick=True) as clock:
        for _ in range(len(retry_schedule) + 1):
            services.send_due(destination_id=destination.pk)
            clock.shift(timedelta(seconds=10))

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("dead", len(retry_schedule) + 1)
    assert delivery.last_error == "RuntimeError: frame corrupted"


@pytest.mark.django_db(transaction=True)
def test_a_sender_that_loses_its_lease_stops_its_batch_and_records_nothing_for_those_customers(
    catalog, receiver, settings
):
    settings.DELIVERY_SEND_THREADS = 1
    destination = DestinationFactory(endpoint=receiver.url)
    for other in CustomerFactory.create_batch(4):
        grant_email(other)
    services.fan_out_outbox()

    with time_machine.travel(timezone.now(), tick=True) as clock:

        def outlast_the_lease(path, headers, body):
            clock.shift(timedelta(seconds=settings.DELIVERY_LEASE_SECONDS))  # the request outlasts the lease
            DeliveryCursor.objects.update(lease_token=uuid.uuid4())  # and another sender takes over
            connection.close()  # this receiver thread's own connection
            return original(path, headers, body)

        original, receiver.handle = receiver.handle, outlast_the_lease

        report = services.send_due(destination_id=destination.pk)

    assert len(receiver.requests) == 1
    assert (report.delivered, report.failed) == (0, 0)
    assert not Delivery.objects.exclude(status="pending").exists()
    assert not Delivery.objects.filter(attempts__gt=0).exists()


def test_a_lease_renewal_that_finds_a_cursor_taken_over_marks_the_lease_lost(customer, destination):
    grant_email(customer)
    services.fan_out_outbox()
    cursor = DeliveryCursor.objects.get()
    token = uuid.uuid4()
    DeliveryCursor.objects.update(lease_token=token, leased_until=timezone.now() + timedelta(seconds=15))
    lease = services.Lease(token=token, cursors=[cursor], until=timezone.now() + timedelta(seconds=15))
    DeliveryCursor.objects.update(lease_token=uuid.uuid4())  # another sender took over

    lease.renew()

    assert lease.lost.is_set()
