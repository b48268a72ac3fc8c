import pytest

from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from apps.delivery import services
from apps.delivery.adapters.braze import BrazeAdapter
from apps.delivery.models import Delivery
from tests.factories import CustomerFactory, make_choice

from .conftest import grant_email
from .fake_braze import FakeBraze

API_KEY = "braze-rest-key-for-tests"


@pytest.fixture
def braze():
    fake = FakeBraze(API_KEY)
    yield fake
    fake.stop()


@pytest.fixture
def destination(catalog, braze):
    return services.add_destination(
        name="braze",
        kind="braze",
        endpoint=braze.url,
        secret=API_KEY,
        identifiers=["external_id", "email"],
        options={"subscription_groups": {"email:news": "sg-email-news", "sms:offers": "sg-sms-offers"}},
    )


def test_braze_defaults_are_its_documented_limits(destination):
    assert destination.batch_size == 75
    assert destination.rate_limit == 1000
    assert BrazeAdapter.per_request == 75


def test_permissions_arrive_as_braze_user_attributes(destination, braze):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email"), make_choice("topic:news", value={"channels": ["email"]})],
        provenance=Provenance(source="import", actor="import:test"),
    )
    services.fan_out_outbox()

    services.send_due(destination_id=destination.pk)

    assert braze.rejected == []
    user = braze.users[customer.external_id]
    assert user["email"] == customer.email
    assert user["email_subscribe"] == "opted_in"
    assert user["push_subscribe"] == "unsubscribed"
    assert {"subscription_group_id": "sg-email-news", "subscription_state": "subscribed"} in user[
        "subscription_groups"
    ]
    assert {"subscription_group_id": "sg-sms-offers", "subscription_state": "unsubscribed"} in user[
        "subscription_groups"
    ]
    assert user["candor_location_level"] == "off"
    assert Delivery.objects.get().status == "delivered"


def test_many_customers_go_in_one_request_up_to_the_batch_limit(destination, braze):
    customers = CustomerFactory.create_batch(5)
    for customer in customers:
        grant_email(customer)
    services.fan_out_outbox()

    services.send_due(destination_id=destination.pk)

    assert [len(r["attributes"]) for r in braze.requests] == [5]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_wrong_api_key_is_refused_and_not_retried(destination, braze):
    destination.secret = "wrong"
    destination.save()
    grant_email(CustomerFactory())
    services.fan_out_outbox()

    services.send_due(destination_id=destination.pk)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("dead", 401)
