"""``PUT /api/v1/customers/{external_id}/inferences``: what the brand's systems infer, reported for the customer to
see and remove."""

import pytest
from rest_framework.test import APIClient

from apps.consent.models import PermissionDocument
from apps.consent.services import remove_customer_inference
from apps.customers.models import Inference
from tests.factories import RUNNER, CustomerFactory


@pytest.fixture
def customer(catalog):
    return CustomerFactory(external_id="crm-7")


def put(http, body, external_id="crm-7"):
    return http.put(f"/api/v1/customers/{external_id}/inferences", body, format="json")


def test_reported_inferences_are_kept_and_listed_back(api, customer):
    response = put(api, {"inferences": [RUNNER]})

    assert response.status_code == 200
    assert response.json() == {"changed": True, "inferences": [{**RUNNER, "removed": None}]}
    assert Inference.objects.get(customer=customer).source == "purchases"


def test_a_report_writes_the_next_permission_document(api, customer):
    put(api, {"inferences": [RUNNER]})

    assert PermissionDocument.objects.get(customer=customer).body["profile"]["inferences_revision"] == 1


def test_an_empty_list_deletes_what_was_reported(api, customer):
    put(api, {"inferences": [RUNNER]})

    response = put(api, {"inferences": []})

    assert response.json() == {"changed": True, "inferences": []}


def test_one_the_customer_removed_is_listed_as_removed_and_stays_so(api, customer):
    put(api, {"inferences": [RUNNER]})
    remove_customer_inference(customer=customer, code="runner", removal="dont_use")

    response = put(api, {"inferences": [RUNNER]})

    assert response.json() == {"changed": False, "inferences": [{**RUNNER, "removed": "dont_use"}]}


def test_a_bad_item_is_a_problem_pointing_at_it_and_nothing_is_kept(api, customer):
    bad = {**RUNNER, "code": "other", "purpose": "astrology"}

    response = put(api, {"inferences": [RUNNER, bad]})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [error["pointer"] for error in response.json()["errors"]] == ["#/inferences/1/purpose"]
    assert not Inference.objects.exists()


def test_an_unknown_customer_is_a_404_problem(api, customer):
    response = put(api, {"inferences": [RUNNER]}, external_id="nobody")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_caller_without_a_key_is_refused(customer):
    response = put(APIClient(), {"inferences": [RUNNER]})

    assert response.status_code == 401
    assert not Inference.objects.exists()


def test_a_key_without_customers_write_is_refused(make_api, customer):
    response = put(make_api(scopes=["permissions:read", "consents:write"]), {"inferences": [RUNNER]})

    assert response.status_code == 403
    assert not Inference.objects.exists()


def test_the_operation_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/customers/{external_id}/inferences"]["put"]
    assert operation["operationId"] == "customer_inferences_replace"
