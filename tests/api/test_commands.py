from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.api.models import ApiClient, IdempotencyRecord
from apps.api.selectors import hash_key
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


def test_create_api_client_prints_the_key_once_and_keeps_its_hash(db, capsys):
    call_command("create_api_client", "crm", "--scopes", "permissions:read", "catalog:read")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = ApiClient.objects.get(name="crm")
    assert client.key_hash == hash_key(key)
    assert client.scopes == ["catalog:read", "permissions:read"]


def test_create_api_client_refuses_a_taken_name(db):
    call_command("create_api_client", "crm", "--scopes", "catalog:read")
    with pytest.raises(CommandError):
        call_command("create_api_client", "crm", "--scopes", "catalog:read")


def test_revoke_api_client_revokes_the_key(db, capsys):
    call_command("create_api_client", "crm", "--scopes", "catalog:read")
    call_command("revoke_api_client", "crm")
    assert ApiClient.objects.get(name="crm").revoked_at is not None


def test_prune_idempotency_keys_forgets_only_old_answers(catalog, api):
    customer = CustomerFactory()
    url = f"/api/v1/customers/{customer.external_id}/consents"
    body = {
        "choices": [
            {
                "purpose": "channel:sms",
                "state": "given",
                "notice_version": make_choice("channel:sms").notice_version_id,
            }
        ]
    }
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="new")
    call_command("prune_idempotency_keys")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_the_admin_creates_a_client_and_shows_its_key_once(staff_client):
    response = staff_client.post(
        "/admin/api/apiclient/add/", {"name": "esp", "scopes": ["permissions:read"]}, follow=True
    )
    client = ApiClient.objects.get(name="esp")
    shown = next(str(m) for m in response.context["messages"] if "shown only now" in str(m))
    assert client.key_hash == hash_key(shown.rsplit(" ", 1)[1])
    assert client.scopes == ["permissions:read"]
