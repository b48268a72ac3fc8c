import pytest

from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import erase_customer, record_choices
from apps.customers.models import Customer
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


def test_put_creates_a_customer_and_answers_201(api):
    response = api.put("/api/v1/customers/crm-1", {"email": "Ada@Example.com", "locale": "de"}, format="json")
    assert response.status_code == 201
    customer = Customer.objects.get(external_id="crm-1")
    assert (customer.email, customer.locale) == ("ada@example.com", "de")


def test_put_updates_an_existing_customer_and_answers_200(api):
    api.put("/api/v1/customers/crm-1", {"email": "old@example.com"}, format="json")
    response = api.put("/api/v1/customers/crm-1", {"email": "new@example.com"}, format="json")
    assert response.status_code == 200
    assert Customer.objects.get(external_id="crm-1").email == "new@example.com"


def test_a_bad_phone_number_is_a_400_naming_the_field_and_writes_nothing(api):
    response = api.put("/api/v1/customers/crm-1", {"phone": "0151 123"}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [error["pointer"] for error in response.json()["errors"]] == ["#/phone"]
    assert not Customer.objects.exists()


def test_an_over_long_external_id_is_a_400(api):
    response = api.put(f"/api/v1/customers/{'x' * 101}", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/external_id"


@pytest.fixture
def confirmed(catalog):
    """A customer whose email (confirmed by the double opt-in link) and texts are allowed."""
    customer = CustomerFactory(external_id="crm-1", email="ada@example.com", phone="+4915100000001")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="email_link", actor="customer"),
    )
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    return customer


def permissions(api, customer):
    return api.get(f"/api/v1/customers/{customer.external_id}/permissions").json()["permissions"]


def test_a_new_email_address_pauses_email_in_the_permissions(api, confirmed):
    api.put("/api/v1/customers/crm-1", {"email": "ada@example.org", "phone": "+4915100000001"}, format="json")
    assert permissions(api, confirmed)["channels"]["email"]["allowed"] is False


def test_a_new_phone_number_stops_texts_in_the_permissions(api, confirmed):
    api.put("/api/v1/customers/crm-1", {"email": "ada@example.com", "phone": "+4915100000002"}, format="json")
    assert permissions(api, confirmed)["channels"]["sms"]["allowed"] is False


def test_the_pause_is_recorded_as_the_api_client(api, confirmed):
    api.put("/api/v1/customers/crm-1", {"email": "ada@example.org", "phone": "+4915100000001"}, format="json")
    event = ConsentEvent.objects.filter(customer=confirmed).latest("sequence")
    assert (event.purpose, event.state, event.source, event.actor) == (
        "channel:email",
        "requested",
        "api",
        f"api:{api.api_client.name}",
    )


def test_email_given_over_the_api_after_a_new_address_still_waits_for_confirmation(api, confirmed):
    api.put("/api/v1/customers/crm-1", {"email": "ada@example.org", "phone": "+4915100000001"}, format="json")
    version = make_choice("channel:email").notice_version_id
    api.post(
        "/api/v1/customers/crm-1/consents",
        {"choices": [{"purpose": "channel:email", "state": "given", "notice_version": version}]},
        format="json",
    )
    assert permissions(api, confirmed)["channels"]["email"]["allowed"] is False


def test_the_same_identity_in_other_case_or_spacing_records_nothing(api, confirmed):
    before = ConsentEvent.objects.filter(customer=confirmed).count()
    response = api.put(
        "/api/v1/customers/crm-1", {"email": " ADA@example.com", "phone": "+4915100000001 "}, format="json"
    )
    assert response.status_code == 200
    assert ConsentEvent.objects.filter(customer=confirmed).count() == before


def test_put_on_an_erased_customer_is_a_400_and_takes_no_identity_back(api, catalog):
    customer = CustomerFactory(external_id="crm-erased", email="ada@example.com")
    erase_customer(customer=customer, source="support_agent", actor="staff:1")
    response = api.put("/api/v1/customers/crm-erased", {"email": "ada@example.com"}, format="json")
    assert response.status_code == 400
    assert [error["pointer"] for error in response.json()["errors"]] == ["#/external_id"]
    assert Customer.objects.get(pk=customer.pk).email == ""
