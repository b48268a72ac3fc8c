from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks import Webhook

from apps.delivery import services
from apps.delivery.models import Delivery, Destination
from tests.factories import CustomerFactory

from .conftest import grant_email
from .factories import DestinationFactory


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_add_destination_prints_a_webhook_secret_once(db):
    output = run(
        "add_destination",
        "crm",
        "--endpoint",
        "https://crm.example/hooks",
        "--identifiers",
        "external_id,email",
    )

    destination = Destination.objects.get(name="crm")
    assert destination.secret in output
    assert destination.identifiers == ["external_id", "email"]
    Webhook(destination.secret)


def test_add_destination_takes_kind_specific_options(db):
    run(
        "add_destination",
        "bus",
        "--kind",
        "rabbitmq",
        "--endpoint",
        "amqp://guest:guest@127.0.0.1:5672/%2F",
        "--option",
        "exchange=brand.events",
    )

    destination = Destination.objects.get(name="bus")
    assert destination.options == {"exchange": "brand.events"}
    assert destination.secret == ""


def test_add_destination_refuses_an_unknown_identifier(db):
    with pytest.raises(CommandError, match="identifier"):
        run("add_destination", "x", "--endpoint", "https://x.example", "--identifiers", "ssn")


def test_resync_queues_every_customers_current_document(catalog):
    customers = CustomerFactory.create_batch(5)
    for customer in customers:
        grant_email(customer)
    services.fan_out_outbox()  # before the destination existed: nothing was queued for it
    destination = DestinationFactory(batch_size=100)

    output = run("resync_destination", destination.name, "--batch-size", "2", "--verbosity", "0")

    assert "Queued 5" in output
    assert set(Delivery.objects.filter(destination=destination).values_list("customer", flat=True)) == {
        c.pk for c in customers
    }
    assert Delivery.objects.filter(destination=destination, resync=True).count() == 5
    destination.refresh_from_db()
    assert destination.resync_after_customer is None


def test_an_interrupted_resync_resumes_where_it_stopped(catalog):
    customers = CustomerFactory.create_batch(4)
    for customer in customers:
        grant_email(customer)
    destination = DestinationFactory()
    services.resync_batch(destination=destination, batch_size=3)  # then the process died

    output = run("resync_destination", destination.name, "--verbosity", "0")

    assert "Resuming after customer id" in output
    assert "Queued 1 " in output
    assert Delivery.objects.filter(destination=destination, resync=True).count() == 4


def test_replay_dead_names_how_many_it_replayed(customer):
    destination = DestinationFactory()
    grant_email(customer)
    services.fan_out_outbox()
    Delivery.objects.update(status="dead")

    output = run("replay_dead", destination.name)

    assert "Replayed 1 dead" in output
    assert Delivery.objects.get().status == "pending"


def test_seed_demo_destinations_adds_the_sandbox_once(db):
    run("seed_demo_destinations")
    output = run("seed_demo_destinations")

    assert "exists already" in output
    sandbox = Destination.objects.get(name="sandbox")
    assert sandbox.endpoint == "http://127.0.0.1:8000/delivery/sandbox/sandbox/hooks"
