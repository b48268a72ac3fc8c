import pytest
from django.core.management import CommandError, call_command

from apps.api.models import ApiClient
from apps.api.selectors import hash_key

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
