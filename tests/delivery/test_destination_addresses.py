"""Destinations reach public addresses only, over TLS, and never follow a redirect (SSRF)."""

import pytest
from django.core.exceptions import ValidationError

from apps.delivery import services
from apps.delivery.adapters.network import is_public
from apps.delivery.models import Delivery

from .conftest import grant_email
from .factories import DestinationFactory


@pytest.fixture
def production_rules(settings):
    settings.DELIVERY_ALLOW_PRIVATE_DESTINATIONS = False


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address checked, not bound)
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_loopback_private_link_local_and_multicast_addresses_are_not_public(address):
    assert not is_public(address)


def test_a_public_address_is_public():
    assert is_public("93.184.215.14")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/hooks",
        "https://localhost:8443/hooks",
        "https://[::1]/hooks",
    ],
)
def test_a_destination_on_a_non_public_address_is_refused_at_save(db, production_rules, endpoint):
    with pytest.raises(ValidationError, match="not a public address"):
        services.add_destination(name="crm", kind="webhook", endpoint=endpoint)


def test_plain_http_is_refused_outside_development(db, production_rules):
    with pytest.raises(ValidationError, match="https://"):
        services.add_destination(name="crm", kind="webhook", endpoint="http://93.184.215.14/hooks")


def test_a_rabbitmq_destination_needs_amqps_outside_development(db, production_rules):
    with pytest.raises(ValidationError, match="amqps://"):
        services.add_destination(name="bus", kind="rabbitmq", endpoint="amqp://guest:guest@93.184.215.14/%2F")


def test_a_name_that_does_not_resolve_is_refused_at_save(db, production_rules):
    with pytest.raises(ValidationError, match="does not resolve"):
        services.add_destination(name="crm", kind="webhook", endpoint="https://nowhere.invalid/hooks")


def test_a_name_that_resolves_to_a_private_address_by_connect_time_is_refused_then(
    customer, receiver, production_rules
):
    # Saved while the name pointed elsewhere (DNS rebinding); now "localhost" resolves to the receiver's 127.0.0.1.
    destination = DestinationFactory(endpoint=f"http://localhost:{receiver.port}/hooks")
    grant_email(customer)
    services.fan_out_outbox()

    services.send_due(destination_id=destination.pk)

    assert receiver.requests == []
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "not a public address" in delivery.last_error


def test_a_redirect_is_not_followed(customer, receiver):
    receiver.script.append((302, {"Location": "http://169.254.169.254/latest/meta-data/"}))
    destination = DestinationFactory(endpoint=receiver.url)
    grant_email(customer)
    services.fan_out_outbox()

    services.send_due(destination_id=destination.pk)

    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        "dead",
        302,
        "HTTP 302 Found",
    )
