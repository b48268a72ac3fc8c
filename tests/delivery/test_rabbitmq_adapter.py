import json

import pika
import pytest

from apps.delivery import services
from apps.delivery.adapters import Message
from apps.delivery.adapters.rabbitmq import RabbitMQAdapter
from apps.delivery.models import Delivery
from tests.conftest import RABBITMQ_URL
from tests.factories import CustomerFactory

from .conftest import grant_email

MESSAGE = Message(id="msg_7", customer_id=1, version=2, payload={"type": "permissions.updated", "data": {}})


@pytest.fixture
def destination(catalog, exchange):
    _, name, _ = exchange
    return services.add_destination(
        name="bus", kind="rabbitmq", endpoint=RABBITMQ_URL, options={"exchange": name}
    )


def test_a_document_is_published_persistent_with_its_message_id(destination, exchange):
    channel, _, queue = exchange

    outcomes = RabbitMQAdapter().send(destination, [MESSAGE])

    assert outcomes[0].delivered
    method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
    assert json.loads(body) == MESSAGE.payload
    assert properties.message_id == "msg_7"
    assert properties.delivery_mode == pika.DeliveryMode.Persistent.value
    assert properties.content_type == "application/json"
    assert method.routing_key == "permissions.updated"


def test_a_message_no_queue_would_take_is_not_counted_as_delivered(destination):
    destination.options["routing_key"] = "nobody.listens"

    outcomes = RabbitMQAdapter().send(destination, [MESSAGE])

    assert not outcomes[0].delivered
    assert "Unroutable" in outcomes[0].error
    assert not outcomes[0].permanent


def test_a_broker_that_cannot_be_reached_means_retry(destination):
    destination.endpoint = "amqp://guest:guest@127.0.0.1:9/%2F"

    outcomes = RabbitMQAdapter().send(destination, [MESSAGE])

    assert not outcomes[0].delivered
    assert not outcomes[0].permanent


def test_changes_are_published_through_the_pipeline_after_broker_confirms(customer, destination, exchange):
    channel, _, queue = exchange
    recorded = grant_email(customer)
    services.fan_out_outbox()

    services.send_due(destination_id=destination.pk)

    assert Delivery.objects.get().status == "delivered"
    _, _, body = channel.basic_get(queue=queue, auto_ack=True)
    assert json.loads(body)["data"]["version"] == recorded.document.version


def test_a_batch_sent_from_several_threads_publishes_each_document_once_and_records_it(
    catalog, destination, exchange, settings
):
    settings.DELIVERY_SEND_THREADS = 4
    channel, _, queue = exchange
    customers = CustomerFactory.create_batch(40)
    for customer in customers:
        grant_email(customer)
    services.fan_out_outbox()

    report = services.send_due(destination_id=destination.pk)

    assert report.delivered == 40
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    published = []
    while (message := channel.basic_get(queue=queue, auto_ack=True))[0] is not None:
        published.append(message[1].message_id)
    assert sorted(published) == sorted(d.message_id for d in Delivery.objects.all())
