import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.api.models import ApiClient
from apps.api.selectors import hash_key
from apps.api.services import api_client_revoke
from tests.factories import CustomerFactory, make_choice

from .conftest import ALL_SCOPES

pytestmark = pytest.mark.embedded

# One read or write per scope, and the scope it needs.
OPERATIONS = {
    "permissions:read": ("get", "/api/v1/customers/{external_id}/permissions", None),
    "consents:read": ("get", "/api/v1/customers/{external_id}/consents", None),
    "consents:write": ("post", "/api/v1/customers/{external_id}/consents", "consent"),
    "customers:write": ("put", "/api/v1/customers/{external_id}", {"email": "new@example.com"}),
    "catalog:read": ("get", "/api/v1/catalog", None),
    "links:write": ("post", "/api/v1/links", "links"),
    "messages:write": ("post", "/api/v1/messages", "message"),
}


def call(http, scope, customer):
    method, path, body = OPERATIONS[scope]
    if body == "consent":
        body = {
            "choices": [
                {
                    "purpose": "channel:sms",
                    "state": "given",
                    "notice_version": make_choice("channel:sms").notice_version_id,
                }
            ]
        }
    elif body == "links":
        body = {"recipients": [{"external_id": customer.external_id}]}
    elif body == "message":
        body = {
            "messages": [
                {
                    "external_id": customer.external_id,
                    "channel": "email",
                    "topic": "news",
                    "message_id": "m-1",
                    "sent_at": "2026-01-01T00:00:00Z",
                }
            ]
        }
    return getattr(http, method)(path.format(external_id=customer.external_id), body, format="json")


@pytest.mark.parametrize("scope", ALL_SCOPES)
def test_a_key_with_the_scope_is_let_through(catalog, make_api, scope):
    response = call(make_api(scopes=[scope]), scope, CustomerFactory())
    assert response.status_code in (200, 201)


@pytest.mark.parametrize("scope", ALL_SCOPES)
def test_a_key_with_every_other_scope_but_this_one_gets_403(catalog, make_api, scope):
    response = call(make_api(scopes=[s for s in ALL_SCOPES if s != scope]), scope, CustomerFactory())
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert scope in response.json()["detail"]


def test_a_client_without_consents_write_records_nothing(catalog, make_api):
    customer = CustomerFactory()
    call(make_api(scopes=["consents:read", "permissions:read"]), "consents:write", customer)
    assert not customer.consent_events.exists()


def test_no_key_gets_401_with_a_bearer_challenge(db):
    response = APIClient().get("/api/v1/catalog")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_key_gets_401(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer cnd_not-a-key-we-gave-out")
    assert api.get("/api/v1/catalog").status_code == 401


def test_a_revoked_key_gets_401(api):
    api_client_revoke(client=api.api_client)
    response = api.get("/api/v1/catalog")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_key_revoked_by_another_process_is_refused_once_the_key_cache_lapses(api, settings, monkeypatch):
    settings.API_KEY_CACHE_SECONDS = 5
    assert api.get("/api/v1/catalog").status_code == 200  # this process now holds the key in its cache
    ApiClient.objects.filter(pk=api.api_client.pk).update(
        revoked_at=timezone.now()
    )  # as another process would
    assert api.get("/api/v1/catalog").status_code == 200  # not noticed while the cache holds it

    lapsed = time.monotonic() + 5  # the cache's clock, moved on past the lapse
    monkeypatch.setattr(time, "monotonic", lambda: lapsed)
    assert api.get("/api/v1/catalog").status_code == 401


def test_revoking_one_client_leaves_another_clients_key_working(make_api):
    first, second = make_api(), make_api()
    api_client_revoke(client=first.api_client)
    assert second.get("/api/v1/catalog").status_code == 200


def test_only_the_hash_of_the_key_is_stored(api):
    stored = ApiClient.objects.get(pk=api.api_client.pk)
    assert stored.key_hash == hash_key(api.raw_key)
    assert api.raw_key not in str(ApiClient.objects.values().get(pk=stored.pk))
    assert api.raw_key.startswith(stored.key_prefix)


def test_a_request_notes_when_the_key_was_last_used(api):
    before = timezone.now()
    api.get("/api/v1/catalog")
    assert ApiClient.objects.get(pk=api.api_client.pk).last_used_at >= before


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(api, settings):
    settings.API_RATE_LIMIT = "2/min"
    statuses = [api.get("/api/v1/catalog").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = api.get("/api/v1/catalog")
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0


def test_each_client_has_its_own_rate_limit(make_api, settings):
    settings.API_RATE_LIMIT = "1/min"
    first, second = make_api(), make_api()
    first.get("/api/v1/catalog")
    assert second.get("/api/v1/catalog").status_code == 200


def test_head_needs_the_same_scope_as_get(make_api):
    response = make_api(scopes=["permissions:read"]).head("/api/v1/catalog")
    assert response.status_code == 403


def test_a_method_the_endpoint_lacks_is_a_405_problem(api):
    response = api.delete("/api/v1/catalog")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"


def test_head_is_answered_with_the_read_scope(make_api):
    assert make_api(scopes=["catalog:read"]).head("/api/v1/catalog").status_code == 200
