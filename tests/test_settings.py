import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL_SECRET_KEY = "k" * 10 + "3Xq9-vB7_pLm2ZtR8wYc4NdHs6FgJe1KuVa0TiOo5rE"


def load_production_settings(code="import django; django.setup()", **overrides):
    """Run ``code`` in a fresh interpreter under the production settings (they read the environment once)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        ALLOWED_HOSTS="candor.example",
        SITE_URL="https://candor.example/",
    )
    env.update(overrides)
    return subprocess.run(  # noqa: S603 - the code is this module's own
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.embedded
def test_production_refuses_to_start_without_a_secret_key():
    result = load_production_settings()
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value" in result.stderr


@pytest.mark.embedded
def test_production_refuses_a_short_secret_key():
    assert load_production_settings(SECRET_KEY="changeme").returncode != 0


@pytest.mark.embedded
def test_production_refuses_to_start_without_an_https_site_url():
    result = load_production_settings(SECRET_KEY=REAL_SECRET_KEY, SITE_URL="http://127.0.0.1:8000/")
    assert result.returncode != 0
    assert "SITE_URL must be set to the public https:// address" in result.stderr


@pytest.mark.embedded
def test_production_refuses_destinations_on_private_addresses_being_allowed():
    result = load_production_settings(SECRET_KEY=REAL_SECRET_KEY, DELIVERY_ALLOW_PRIVATE_DESTINATIONS="true")
    assert result.returncode != 0
    assert "DELIVERY_ALLOW_PRIVATE_DESTINATIONS is for development and tests" in result.stderr


@pytest.mark.embedded
def test_production_starts_with_a_real_secret_key():
    result = load_production_settings(SECRET_KEY=REAL_SECRET_KEY)
    assert result.returncode == 0, result.stderr


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
    result = load_production_settings(
        SERVE_A_COLLECTED_STATIC_FILE,
        SECRET_KEY=REAL_SECRET_KEY,
        STATIC_ROOT=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert re.fullmatch(r"/static/css/candor\.[0-9a-f]{12}\.css", served["url"])
    assert served["status"] == 200
    assert "max-age=315360000" in served["cache_control"]
    assert "immutable" in served["cache_control"]
