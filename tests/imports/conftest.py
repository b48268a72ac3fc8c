import shutil
from pathlib import Path

import pytest
from django.core.cache import cache

from apps.consent.services import publish_legacy_notice_version

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = ("mailchimp", "klaviyo", "braze", "shopify", "crm")


def legacy_wording(source: str, purpose: str) -> dict:
    return {
        "en": {
            "what_we_ask": f"Sign up for our emails ({source} form, {purpose}).",
            "what_you_get": "News and offers.",
            "what_we_do": "Send you email.",
            "what_we_never_do": "Sell your address.",
        }
    }


@pytest.fixture
def legacy_notices(catalog):
    """A legacy notice version per source system for every purpose that can be imported."""
    versions = {}
    for source in SOURCES:
        for purpose in catalog:
            if purpose != "topic:orders":
                versions[source, purpose] = publish_legacy_notice_version(
                    purpose=purpose, source=source, texts=legacy_wording(source, purpose)
                )
    return versions


@pytest.fixture
def export(tmp_path):
    """Copy a fixture export into a scratch directory (the importer writes rejected rows beside it)."""

    def copy(name: str) -> str:
        target = tmp_path / name
        shutil.copy(FIXTURES / name, target)
        return str(target)

    return copy


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # confirmation-mail counters live in the cache (this run's own Redis database)
