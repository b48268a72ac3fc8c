import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_production_settings(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production", ALLOWED_HOSTS="candor.example", **overrides
    )
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
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
def test_production_starts_with_a_real_secret_key():
    result = load_production_settings(SECRET_KEY="k" * 10 + "3Xq9-vB7_pLm2ZtR8wYc4NdHs6FgJe1KuVa0TiOo5rE")
    assert result.returncode == 0, result.stderr
