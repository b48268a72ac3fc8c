import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.selectors import current_notice_version
from apps.consent.services import publish_notice_version
from tests.factories import NoticeVersionFactory, TopicFactory

pytestmark = pytest.mark.embedded


def test_the_catalog_lists_channels_topics_options_and_current_notice_versions(catalog, api):
    body = api.get("/api/v1/catalog").json()
    assert [c["code"] for c in body["channels"]] == ["email", "sms", "push"]
    news = next(t for t in body["topics"] if t["slug"] == "news")
    assert sorted(news["channels"]) == ["email", "push"]
    sms = next(n for n in body["notices"] if n["purpose"] == "channel:sms")
    assert sms["current_version"]["id"] == current_notice_version("channel:sms").pk
    assert {t["language"] for t in sms["current_version"]["texts"]} == {"en", "de"}


def test_the_catalog_takes_the_same_queries_however_big_it_is(catalog, api):
    api.get("/api/v1/catalog")
    with CaptureQueriesContext(connection) as small:
        api.get("/api/v1/catalog")
    for n in range(5):
        TopicFactory(slug=f"extra-{n}")
    with CaptureQueriesContext(connection) as bigger:
        api.get("/api/v1/catalog")
    assert len(bigger) == len(small)


def test_a_notices_texts_carry_its_example_and_a_blank_where_it_gives_none(catalog, api):
    sms = current_notice_version("channel:sms").notice
    publish_notice_version(version=NoticeVersionFactory(notice=sms, texts__example="“Your size is back.”"))
    notices = {notice["purpose"]: notice for notice in api.get("/api/v1/catalog").json()["notices"]}
    texts = {text["language"]: text for text in notices["channel:sms"]["current_version"]["texts"]}
    assert (texts["en"]["example"], texts["de"]["example"]) == (
        "[en] “Your size is back.”",
        "[de] “Your size is back.”",
    )
    assert {text["example"] for text in notices["channel:email"]["current_version"]["texts"]} == {""}


def test_the_schema_names_the_example_of_a_notices_text(api):
    schemas = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert schemas["NoticeTextOutput"]["properties"]["example"]["type"] == "string"
    assert "example" in schemas["NoticeTextOutput"]["required"]
    assert "example" in schemas["WordingOutput"]["properties"]
