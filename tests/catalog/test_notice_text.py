"""A notice version's wording: the optional example is part of it, and versions without one keep their hash."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.catalog.models import NoticeText, NoticeVersion, PublishedVersionError
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


def test_an_example_changes_the_hash(db):
    version = version_saying(
        WORDING,
        en={"example": "Like this: “The Linen Shirt in size 38 is back.”"},
        de={"example": "Etwa so."},
    )
    publish_notice_version(version=version)
    assert version.text_hash != HASH_WITHOUT_EXAMPLE
    assert version.text_hash == version.compute_text_hash()


def test_the_hash_covers_the_example_alone_when_the_rest_is_the_same(db):
    one = version_saying(WORDING, en={"example": "Like this: one."}, de={"example": "Etwa so: eins."})
    other = NoticeVersion.objects.create(notice=one.notice, number=2)
    for text in one.texts.all():
        NoticeText.objects.create(
            version=other, language=text.language, **{**text.canonical(), "example": text.example + " Two."}
        )
    assert one.compute_text_hash() != other.compute_text_hash()


def test_a_version_with_an_example_in_one_language_only_is_not_published(db):
    version = version_saying(WORDING, en={"example": "Like this: one."})
    with pytest.raises(ValidationError, match="not in de"):
        publish_notice_version(version=version)
    version.refresh_from_db()
    assert not version.is_published


def test_a_published_example_cannot_be_edited(db):
    version = version_saying(WORDING, en={"example": "Like this: one."}, de={"example": "Etwa so: eins."})
    publish_notice_version(version=version)
    text = version.texts.get(language="en")
    text.example = "Like this: something the customer never read."
    with pytest.raises(PublishedVersionError):
        text.save()


def test_an_example_cannot_be_added_to_a_published_version(db):
    version = version_saying(WORDING)
    publish_notice_version(version=version)
    text = version.texts.get(language="de")
    text.example = "Etwa so: nachträglich."
    with pytest.raises(PublishedVersionError):
        text.save()


def test_a_drafts_example_is_written_in_the_admin(staff_client, db):
    version = version_saying(WORDING)
    texts = list(version.texts.order_by("language"))
    form = {
        "notice": version.notice_id,
        "number": version.number,
        "change_summary": "{}",
        "legacy_source": "",
        "texts-TOTAL_FORMS": len(texts),
        "texts-INITIAL_FORMS": len(texts),
        "texts-MIN_NUM_FORMS": 0,
        "texts-MAX_NUM_FORMS": 1000,
    }
    for index, text in enumerate(texts):
        form |= {f"texts-{index}-{name}": value for name, value in text.canonical().items()}
        form |= {f"texts-{index}-id": text.pk, f"texts-{index}-version": version.pk}
        form |= {
            f"texts-{index}-language": text.language,
            f"texts-{index}-example": f"[{text.language}] Like this.",
        }
    response = staff_client.post(reverse("admin:catalog_noticeversion_change", args=[version.pk]), form)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    assert dict(version.texts.values_list("language", "example")) == {
        "de": "[de] Like this.",
        "en": "[en] Like this.",
    }
