"""What a customer told us and what the brand inferred reach a destination only when it is configured with
``profile``, and only as far as the customer's personalization depth allows: checked at the receivers."""

import json

import pytest

from apps.consent.rules import Provenance
from apps.consent.services import record_choices, remove_customer_inference, report_inferences
from apps.delivery import services
from tests.conftest import RABBITMQ_URL
from tests.factories import RUNNER, CustomerFactory, make_choice, set_depth, tell

from .factories import DestinationFactory
from .fake_braze import FakeBraze


@pytest.fixture
def customer(questions):
    return CustomerFactory()


def send(*destinations):
    services.fan_out_outbox()
    for destination in destinations:
        services.send_due(destination_id=destination.pk)


def last_profile(receiver):
    return receiver.requests[-1].json()["data"].get("profile")


def test_a_destination_without_profile_never_receives_answers_or_inferences(customer, receiver):
    everything = DestinationFactory(endpoint=receiver.url)  # no purposes: every part but the profile
    tell(customer, "size", "m")
    report_inferences(customer=customer, inferences=[RUNNER])
    set_depth(customer, "activity")

    send(everything)

    assert receiver.requests
    for request in receiver.requests:
        assert "profile" not in request.json()["data"]
        assert b'"m"' not in request.body
        assert b"runner" not in request.body


def test_at_depth_interests_a_profile_destination_receives_exactly_the_answers(customer, receiver):
    destination = DestinationFactory(endpoint=receiver.url, purposes=["profile"])
    tell(customer, "size", "m")
    tell(customer, "interests", "hiking", "running")
    tell(customer, "household", "family")  # may not be sent downstream
    report_inferences(customer=customer, inferences=[RUNNER])
    set_depth(customer, "interests")

    send(destination)

    assert last_profile(receiver) == {
        "depth": "interests",
        "answers": {"size": ["m"], "interests": ["hiking", "running"]},
        "inferences": [],
    }


def test_at_depth_activity_the_inferences_come_too(customer, receiver):
    destination = DestinationFactory(endpoint=receiver.url, purposes=["profile"])
    tell(customer, "size", "m")
    report_inferences(customer=customer, inferences=[RUNNER])
    set_depth(customer, "activity")

    send(destination)

    assert last_profile(receiver)["inferences"] == [RUNNER]


def test_a_depth_lowered_to_none_sends_the_profile_emptied(customer, receiver):
    destination = DestinationFactory(endpoint=receiver.url, purposes=["profile"])
    tell(customer, "size", "m")
    report_inferences(customer=customer, inferences=[RUNNER])
    set_depth(customer, "activity")
    send(destination)

    set_depth(customer, "none")
    send(destination)

    assert last_profile(receiver) == {
        "depth": "none",
        "answers": {"size": None, "interests": None},
        "inferences": [],
    }


def test_an_inference_the_customer_removes_is_sent_as_gone(customer, receiver):
    destination = DestinationFactory(endpoint=receiver.url, purposes=["profile"])
    report_inferences(customer=customer, inferences=[RUNNER])
    set_depth(customer, "activity")
    send(destination)

    remove_customer_inference(customer=customer, code="runner", removal="dont_use")
    send(destination)

    assert last_profile(receiver)["inferences"] == []


def test_a_profile_only_destination_still_gets_every_other_part(customer, receiver):
    destination = DestinationFactory(endpoint=receiver.url, purposes=["profile"])
    tell(customer, "size", "s")

    send(destination)

    data = receiver.requests[-1].json()["data"]
    assert {"channels", "location", "personalization", "profile"} <= set(data)


def test_braze_gets_answers_as_custom_attributes_and_a_forgotten_one_as_null(customer):
    braze = FakeBraze("key")
    try:
        destination = services.add_destination(
            name="braze", kind="braze", endpoint=braze.url, secret="key", purposes=["profile"]
        )
        tell(customer, "size", "m")
        set_depth(customer, "interests")
        send(destination)
        assert braze.users[customer.external_id]["candor_profile_size"] == ["m"]

        record_choices(
            customer=customer,
            choices=[make_choice("profile:size", "withdrawn")],
            provenance=Provenance(source="web", actor="customer"),
        )
        send(destination)

        user = braze.users[customer.external_id]
        assert user["candor_profile_size"] is None
        assert user["candor_inferences"] == []
    finally:
        braze.stop()


def test_rabbitmq_messages_carry_the_profile(customer, exchange):
    channel, name, queue = exchange
    destination = services.add_destination(
        name="bus", kind="rabbitmq", endpoint=RABBITMQ_URL, options={"exchange": name}, purposes=["profile"]
    )
    tell(customer, "interests", "climbing")
    set_depth(customer, "interests")

    send(destination)

    bodies = []
    while (message := channel.basic_get(queue=queue, auto_ack=True))[0] is not None:
        bodies.append(json.loads(message[2]))
    assert bodies[-1]["data"]["profile"]["answers"]["interests"] == ["climbing"]
