import os
import uuid

import pika
import pytest

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

from .receiver import Receiver


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def retry_schedule(settings):
    settings.DELIVERY_RETRY_SCHEDULE = [1, 2, 3]
    return settings.DELIVERY_RETRY_SCHEDULE


def grant_email(customer):
    """email consent confirmed (import proves the address), so the document allows email."""
    return record_choices(
        customer=customer,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="import", actor="import:test"),
    )


def withdraw_email(customer):
    return record_choices(
        customer=customer,
        choices=[make_choice("channel:email", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )


@pytest.fixture
def customer(catalog):
    return CustomerFactory()


RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture
def exchange():
    """A private exchange with one bound queue; both removed afterwards."""
    name = f"candor_test_delivery.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    channel.exchange_declare(exchange=name, exchange_type="topic", durable=True)
    queue = channel.queue_declare(queue=f"{name}.q", durable=True).method.queue
    channel.queue_bind(queue=queue, exchange=name, routing_key="permissions.#")
    yield channel, name, queue
    channel.queue_delete(queue=queue)
    channel.exchange_delete(exchange=name)
    connection.close()
