"""A notice version's wording: the optional example is part of it, and versions without one keep their hash."""

import pytest

from apps.catalog.models import NoticeText, NoticeVersion
from apps.consent.services import publish_notice_version
from tests.factories import NoticeFactory

pytestmark = pytest.mark.embedded

WORDING = {
    "en": {
        "what_we_ask": "May we email you?",
        "what_you_get": "New arrivals of the season.",
        "what_we_do": "At most one email a week.",
        "what_we_never_do": "We never sell your address.",
    },
    "de": {
        "what_we_ask": "Dürfen wir Ihnen E-Mails schicken?",
        "what_you_get": "Neuheiten der Saison.",
        "what_we_do": "Höchstens eine E-Mail pro Woche.",
        "what_we_never_do": "Wir verkaufen Ihre Adresse nie.",
    },
}
# The SHA-256 of WORDING's canonical JSON as Candor computed it before notices had examples: published versions
# carry hashes like it, and they must still verify.
HASH_WITHOUT_EXAMPLE = "7ccc17e04fa9647cb8a06e3f9b1b8dee1098797d769a61f7fe0d96923f32421e"


def version_saying(wording, **examples):
    version = NoticeVersion.objects.create(notice=NoticeFactory(purpose="topic:arrivals"), number=1)
    for language, fields in wording.items():
        NoticeText.objects.create(version=version, language=language, **fields, **examples.get(language, {}))
    return version


def test_a_version_without_an_example_keeps_the_hash_it_always_had(db):
    version = version_saying(WORDING)
    publish_notice_version(version=version)
    assert version.text_hash == HASH_WITHOUT_EXAMPLE
    assert version.compute_text_hash() == HASH_WITHOUT_EXAMPLE
