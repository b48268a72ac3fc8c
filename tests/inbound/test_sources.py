import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command

from apps.inbound.models import InboundSource
from apps.inbound.providers import secret_hash

pytestmark = pytest.mark.django_db


def test_adding_a_mailchimp_source_prints_its_secret_url_once_and_keeps_only_a_hash(catalog, capsys):
    call_command("add_inbound_source", "mc", "--kind", "mailchimp")

    out = capsys.readouterr().out
    url = next(line for line in out.splitlines() if "Callback URL" in line).split()[-1]
    secret = url.rstrip("/").rsplit("/", 1)[-1]
    source = InboundSource.objects.get(name="mc")
    assert source.secret_hash == secret_hash(secret)
    assert secret not in str(InboundSource.objects.filter(name="mc").values().get())
    assert "NOT by the API" in out


def test_adding_a_postmark_source_prints_basic_auth_credentials(catalog, capsys):
    call_command("add_inbound_source", "pm", "--kind", "postmark")

    assert "basic auth: user pm, password " in capsys.readouterr().out


def test_a_twilio_source_needs_the_auth_token(catalog):
    with pytest.raises(CommandError, match="auth token"):
        call_command("add_inbound_source", "sms", "--kind", "twilio")


def test_a_scope_mapped_to_a_topic_the_channel_cannot_carry_is_refused(catalog):
    with pytest.raises(CommandError, match="does not use email"):
        call_command(
            "add_inbound_source",
            "sg",
            "--kind",
            "sendgrid",
            "--public-key",
            "x",
            "--scopes",
            '{"1": {"topics": ["orders-x"]}}',
        )


def test_the_admin_never_shows_a_sources_secret_again(staff_client, catalog):
    call_command("add_inbound_source", "sms", "--kind", "twilio", "--auth-token", "twilio-token-not-shown")
    source = InboundSource.objects.get(name="sms")

    page = staff_client.get(f"/admin/inbound/inboundsource/{source.pk}/change/").content.decode()

    assert "twilio-token-not-shown" not in page
    assert 'name="new_secret"' in page


def test_the_admin_replaces_a_secret_without_showing_it(staff_client, catalog):
    call_command("add_inbound_source", "br", "--kind", "braze")
    source = InboundSource.objects.get(name="br")
    form = {
        "name": "br",
        "kind": "braze",
        "channel": "email",
        "scopes": "{}",
        "enabled": "on",
        "new_secret": "fresh-token",
    }

    staff_client.post(f"/admin/inbound/inboundsource/{source.pk}/change/", form)

    source.refresh_from_db()
    assert source.secret_hash == secret_hash("fresh-token")


def test_the_admin_refuses_a_scope_mapped_to_an_unknown_topic(staff_client, catalog):
    call_command("add_inbound_source", "br", "--kind", "braze")
    source = InboundSource.objects.get(name="br")
    form = {
        "name": "br",
        "kind": "braze",
        "channel": "email",
        "scopes": '{"g": {"topics": ["nope"]}}',
        "enabled": "on",
    }

    response = staff_client.post(f"/admin/inbound/inboundsource/{source.pk}/change/", form)

    assert response.status_code == 200
    source.refresh_from_db()
    assert source.scopes == {}


def test_a_sendgrid_source_with_a_malformed_public_key_is_refused(catalog):
    with pytest.raises(CommandError, match="Not a public key"):
        call_command("add_inbound_source", "sg", "--kind", "sendgrid", "--public-key", "MFkwEwYHKoZIzj0CAQ")
    assert not InboundSource.objects.exists()


def test_a_sendgrid_source_with_a_key_of_another_curve_is_refused(catalog):
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    with pytest.raises(CommandError, match="P-256"):
        call_command(
            "add_inbound_source", "sg", "--kind", "sendgrid", "--public-key", base64.b64encode(der).decode()
        )
    assert not InboundSource.objects.exists()


def test_the_admin_refuses_a_sendgrid_source_with_a_malformed_public_key(staff_client, catalog):
    form = {
        "name": "sg",
        "kind": "sendgrid",
        "channel": "email",
        "scopes": "{}",
        "public_key": "not a key",
        "enabled": "on",
    }

    response = staff_client.post("/admin/inbound/inboundsource/add/", form)

    assert response.status_code == 200
    assert "Not a public key" in response.content.decode()
    assert not InboundSource.objects.exists()
