"""Publish each document to a RabbitMQ exchange: persistent messages, mandatory routing, publisher confirms.

A message counts as delivered only when the broker confirmed it (so it is on disk in every bound durable
queue); a nack, an unroutable message (no queue bound) or a lost connection is retried like an HTTP 5xx.
Options: ``exchange`` (default ``candor.permissions``, declared durable ``topic``), ``routing_key``
(default ``permissions.updated``).
"""

import contextlib
import json

import pika
import pika.exceptions
from django.conf import settings

from . import Message, Outcome, failed
from .network import RefusedAddress, amqp_parameters

DEFAULT_EXCHANGE = "candor.permissions"
DEFAULT_ROUTING_KEY = "permissions.updated"


class RabbitMQAdapter:
    per_request = 1
    thread_safe = False  # a pika BlockingConnection belongs to one thread
    default_rate_limit = 0.0
    default_batch_size = 50

    def __init__(self):
        self._connection = None
        self._channel = None

    def _open(self, destination):
        if self._channel is None or self._channel.is_closed:
            parameters = amqp_parameters(destination.endpoint)
            parameters.socket_timeout = settings.DELIVERY_HTTP_TIMEOUT
            parameters.blocked_connection_timeout = settings.DELIVERY_HTTP_TIMEOUT
            self._connection = pika.BlockingConnection(parameters)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
            self._channel.exchange_declare(
                exchange=destination.options.get("exchange", DEFAULT_EXCHANGE),
                exchange_type="topic",
                durable=True,
            )
        return self._channel

    def send(self, destination, messages: list[Message]) -> list[Outcome]:
        exchange = destination.options.get("exchange", DEFAULT_EXCHANGE)
        routing_key = destination.options.get("routing_key", DEFAULT_ROUTING_KEY)
        outcomes = []
        for message in messages:
            try:
                self._open(destination).basic_publish(
                    exchange=exchange,
                    routing_key=routing_key,
                    body=json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode(),
                    properties=pika.BasicProperties(
                        content_type="application/json",
                        delivery_mode=pika.DeliveryMode.Persistent,
                        message_id=message.id,
                        type="permissions.updated",
                        headers={"candor-version": message.version},
                    ),
                    mandatory=True,
                )
            except pika.exceptions.UnroutableError:
                outcomes.append(
                    Outcome(delivered=False, error=f"Unroutable: no queue bound to {routing_key}")
                )
            except pika.exceptions.NackError:
                outcomes.append(Outcome(delivered=False, error="The broker refused the message (nack)."))
            except (pika.exceptions.AMQPError, RefusedAddress, OSError) as error:
                self.close()
                outcomes.extend(failed(messages[len(outcomes) :], f"{type(error).__name__}: {error}"))
                break
            else:
                outcomes.append(Outcome(delivered=True))
        return outcomes

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()
