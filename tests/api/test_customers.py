import pytest

from apps.customers.models import Customer

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
