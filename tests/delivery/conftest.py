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
