import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.embedded


def test_the_openapi_schema_is_public(db):
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/customers/{external_id}/permissions" in response.json()["paths"]


def test_the_browsable_docs_are_served(db):
    assert APIClient().get("/api/docs/").status_code == 200
