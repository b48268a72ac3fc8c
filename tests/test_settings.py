import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL_SECRET_KEY = "k" * 10 + "3Xq9-vB7_pLm2ZtR8wYc4NdHs6FgJe1KuVa0TiOo5rE"
# Everything production needs; each test takes one thing away or changes it. No connection is made at start-up.
PRODUCTION_ENV = {
    "SECRET_KEY": REAL_SECRET_KEY,
    "ALLOWED_HOSTS": "candor.example",
    "SITE_URL": "https://candor.example/",
    "DATABASE_URL": "postgres://candor:secret@db.internal:5432/candor",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+ssl://candor:secret@mail.example:465",
    "SMS_BACKEND": "none",
    "LEDGER_EVIDENCE_KEY": "e" * 10 + "Hs6FgJe1KuVa0TiOo5rE3Xq9-vB7_pLm2ZtR8wYc4Nd",
    "LEDGER_CHECKPOINT_KEY": "c" * 10 + "pLm2ZtR8wYc4NdHs6FgJe1KuVa0TiOo5rE3Xq9-vB7_",
}
SETTINGS_VARIABLES = {*PRODUCTION_ENV, "RABBITMQ_URL", "EMAIL_BACKEND", "TRUSTED_PROXY_COUNT"}


def load_production_settings(code="import django; django.setup()", **overrides):
    """Run ``code`` in a fresh interpreter under the production settings (they read the environment once).

    Starts from ``PRODUCTION_ENV``; an override of ``None`` leaves that variable out."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES and not k.endswith("_FILE")}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="config.settings.production")
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(  # noqa: S603 - the code is this module's own
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


PRINT_SETTINGS = """
import json

import django

django.setup()
from django.conf import settings

print(json.dumps({name: getattr(settings, name, None) for name in %r}, default=str))
"""


def production_settings(*names, **overrides) -> dict:
    result = load_production_settings(PRINT_SETTINGS % (names,), **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.embedded
def test_production_refuses_to_start_without_a_secret_key():
    result = load_production_settings(SECRET_KEY=None)
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value" in result.stderr


@pytest.mark.embedded
def test_production_refuses_a_short_secret_key():
    assert load_production_settings(SECRET_KEY="changeme").returncode != 0


@pytest.mark.embedded
def test_production_refuses_to_start_without_an_https_site_url():
    result = load_production_settings(SITE_URL="http://127.0.0.1:8000/")
    assert result.returncode != 0
    assert "SITE_URL must be set to the public https:// address" in result.stderr


@pytest.mark.embedded
def test_production_refuses_destinations_on_private_addresses_being_allowed():
    result = load_production_settings(DELIVERY_ALLOW_PRIVATE_DESTINATIONS="true")
    assert result.returncode != 0
    assert "DELIVERY_ALLOW_PRIVATE_DESTINATIONS is for development and tests" in result.stderr


def test_production_starts_with_everything_it_needs():
    result = load_production_settings()
    assert result.returncode == 0, result.stderr


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", None, "DATABASE_URL must be set to a PostgreSQL database"),
        (
            "DATABASE_URL",
            "sqlite:////tmp/candor.sqlite3",
            "DATABASE_URL must be set to a PostgreSQL database",
        ),
        ("REDIS_URL", None, "REDIS_URL must be set in production"),
        ("EMAIL_URL", None, "EMAIL_URL must be set to a real mail transport"),
        ("EMAIL_URL", "consolemail://", "EMAIL_URL must be set to a real mail transport"),
        ("EMAIL_URL", "smtp://candor:secret@mail.example:25", "EMAIL_URL must use TLS"),
        ("SMS_BACKEND", None, "SMS_BACKEND must be set in production"),
        ("LEDGER_EVIDENCE_KEY", None, "LEDGER_EVIDENCE_KEY must be set to a random value"),
        ("LEDGER_EVIDENCE_KEY", REAL_SECRET_KEY, "LEDGER_EVIDENCE_KEY must differ from SECRET_KEY"),
        ("LEDGER_CHECKPOINT_KEY", None, "LEDGER_CHECKPOINT_KEY must be set to a random value"),
        ("LEDGER_CHECKPOINT_KEY", REAL_SECRET_KEY, "LEDGER_CHECKPOINT_KEY must differ from SECRET_KEY"),
        (
            "LEDGER_CHECKPOINT_KEY",
            PRODUCTION_ENV["LEDGER_EVIDENCE_KEY"],
            "LEDGER_CHECKPOINT_KEY must differ from LEDGER_EVIDENCE_KEY",
        ),
    ],
)
def test_production_refuses_to_start_on_a_demo_default_and_names_the_variable(variable, value, message):
    result = load_production_settings(**{variable: value})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.embedded
def test_production_reads_secrets_from_files_named_by_file_variables(tmp_path):
    files = {}
    for name in ("SECRET_KEY", "LEDGER_EVIDENCE_KEY", "LEDGER_CHECKPOINT_KEY", "DATABASE_URL", "EMAIL_URL"):
        files[name] = tmp_path / name.lower()
        files[name].write_text(PRODUCTION_ENV[name] + "\n")  # as `echo` and most secret stores write them
    loaded = production_settings(
        "SECRET_KEY",
        "LEDGER_EVIDENCE_KEY",
        "LEDGER_CHECKPOINT_KEY",
        "DATABASES",
        "EMAIL_HOST_PASSWORD",
        **dict.fromkeys(files),
        **{f"{name}_FILE": str(path) for name, path in files.items()},
    )
    assert loaded["SECRET_KEY"] == REAL_SECRET_KEY
    assert loaded["LEDGER_EVIDENCE_KEY"] == PRODUCTION_ENV["LEDGER_EVIDENCE_KEY"]
    assert loaded["LEDGER_CHECKPOINT_KEY"] == PRODUCTION_ENV["LEDGER_CHECKPOINT_KEY"]
    assert loaded["DATABASES"]["default"]["PASSWORD"] == "secret"
    assert loaded["EMAIL_HOST_PASSWORD"] == "secret"


@pytest.mark.embedded
def test_production_sends_mail_over_the_smtp_server_named_by_email_url():
    loaded = production_settings("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_SSL")
    assert loaded == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example",
        "EMAIL_PORT": 465,
        "EMAIL_USE_SSL": True,
    }


@pytest.mark.embedded
def test_production_checks_a_kept_database_connection_before_using_it():
    loaded = production_settings("DATABASES")
    assert loaded["DATABASES"]["default"]["CONN_MAX_AGE"] > 0
    assert loaded["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is True


SERVE_A_COLLECTED_STATIC_FILE = """
import json

import django

django.setup()
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client

call_command("collectstatic", interactive=False, verbosity=0)
url = static("css/candor.css")
response = Client().get(url, SERVER_NAME="candor.example", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({"url": url, "status": response.status_code, "cache_control": response.get("Cache-Control")}))
"""


@pytest.mark.embedded
def test_production_serves_collected_static_files_under_hashed_names_cached_for_long(tmp_path):
    result = load_production_settings(SERVE_A_COLLECTED_STATIC_FILE, STATIC_ROOT=str(tmp_path))
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert re.fullmatch(r"/static/css/candor\.[0-9a-f]{12}\.css", served["url"])
    assert served["status"] == 200
    assert "max-age=315360000" in served["cache_control"]
    assert "immutable" in served["cache_control"]


@pytest.mark.embedded
def test_trusted_proxy_count_tells_allauth_which_forwarded_address_is_the_client():
    assert production_settings("ALLAUTH_TRUSTED_PROXY_COUNT", TRUSTED_PROXY_COUNT="2") == {
        "ALLAUTH_TRUSTED_PROXY_COUNT": 2
    }
