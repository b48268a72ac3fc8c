import json

from django.urls import reverse

from apps.catalog.models import Notice, NoticeText
from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import publish_notice_version
from tests.factories import CustomerFactory, NoticeVersionFactory

from .conftest import CHANNELS, TOPICS, nv

PAGE = "/preferences/"


def test_the_timeline_lists_the_customers_own_events_newest_first(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["push"], **nv(*CHANNELS)})
    signed_in.post(PAGE, {"section": "personalization", "depth": "interests", **nv("personalization")})
    html = signed_in.get(reverse("preferences:history")).content.decode()
    assert html.index("personalization") < html.index("channel:push")
    assert "on this page" in html


def test_the_timeline_shows_the_wording_the_customer_saw_not_a_version_number(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["push"], **nv(*CHANNELS)})
    html = signed_in.get(reverse("preferences:history")).content.decode()
    assert "<summary>The wording you saw</summary>" in html
    assert "[en] What you get." in html
    assert "version 1" not in html


def test_a_receipt_carries_the_consent_record_fields(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["push"], **nv(*CHANNELS)})
    response = signed_in.get(reverse("preferences:receipt", args=[1]))
    assert response["Content-Type"] == "application/json"
    receipt = json.loads(response.content)
    event = ConsentEvent.objects.get(customer=customer)
    version = current_notice_version("channel:push")
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["piiPrincipalId"] == customer.external_id
    assert receipt["piiControllers"][0]["piiController"]
    assert receipt["services"][0]["purposes"][0]["purpose"] == "channel:push"
    assert receipt["consent"]["state"] == "given"
    assert receipt["notice"] == receipt["notice"] | {"id": version.pk, "textHash": version.text_hash}
    assert receipt["ledger"] == {"sequence": 1, "prevHash": event.prev_hash, "hash": event.hash}
    assert receipt["collectionMethod"] == "Preference page"
    assert receipt["consentTimestamp"] == int(event.recorded_at.timestamp())


def test_a_receipt_of_another_customers_event_is_not_found(signed_in, customer):
    from apps.consent.services import record_choices
    from tests.factories import make_choice

    other = CustomerFactory()
    record_choices(
        customer=other,
        choices=[make_choice("channel:push")],
        provenance=Provenance(source="web", actor="customer"),
    )
    assert signed_in.get(reverse("preferences:receipt", args=[1])).status_code == 404


def publish_material(purpose, what_we_do="We now also share it with partners."):
    version = NoticeVersionFactory(
        notice=Notice.objects.get(purpose=purpose), material=True, change_summary={"en": "Partners added."}
    )
    NoticeText.objects.filter(version=version, language="en").update(what_we_do=what_we_do)
    return publish_notice_version(version=version), version


def test_a_material_change_is_asked_again_first_with_what_changed(signed_in, customer):
    signed_in.post(PAGE, {"section": "topics", "topic:news": ["push"], **nv(*TOPICS)})
    invalidated, version = publish_material("topic:news")
    assert invalidated == 1
    html = signed_in.get(PAGE).content.decode()
    assert html.index('id="reasks"') < html.index('id="channels"')
    assert "Partners added." in html
    assert "We now also share it with partners." in html
    assert "<del>[en] What we do.</del>" in html
    assert 'id="topic-news-push" checked' not in html  # off until answered
    signed_in.post(PAGE, {"section": "reask:topic:news", "answer": "yes", **nv("topic:news")})
    event = ConsentEvent.objects.filter(customer=customer).order_by("-sequence").first()
    assert (event.state, event.value, event.notice_version_id) == (
        "given",
        {"channels": ["push"]},
        version.pk,
    )
    assert 'id="reasks"' not in signed_in.get(PAGE).content.decode()


def test_a_reask_names_an_example_the_new_wording_adds(signed_in, customer):
    signed_in.post(PAGE, {"section": "topics", "topic:news": ["push"], **nv(*TOPICS)})
    version = NoticeVersionFactory(notice=Notice.objects.get(purpose="topic:news"), material=True)
    NoticeText.objects.filter(version=version, language="en").update(example="“The spring catalogue is out.”")
    NoticeText.objects.filter(version=version, language="de").update(example="„Der Frühjahrskatalog ist da.“")
    publish_notice_version(version=version)
    html = signed_in.get(PAGE).content.decode()
    change = html[html.index('<p class="field-name">For example</p>') :]
    assert change.startswith(
        '<p class="field-name">For example</p>\n      <p><span class="label">Before:</span> —</p>\n'
        '      <p><span class="label">Now:</span> <ins>“The spring catalogue is out.”</ins></p>'
    )


def test_declining_after_a_material_change_records_a_refusal(signed_in, customer):
    signed_in.post(PAGE, {"section": "personalization", "depth": "activity", **nv("personalization")})
    publish_material("personalization")
    signed_in.post(PAGE, {"section": "reask:personalization", "answer": "no", **nv("personalization")})
    event = ConsentEvent.objects.filter(customer=customer).order_by("-sequence").first()
    assert event.state == "refused"
    assert 'id="reasks"' not in signed_in.get(PAGE).content.decode()


def test_the_timeline_names_the_reason_for_leaving(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["push"], **nv(*CHANNELS)})
    signed_in.post(reverse("preferences:leave"), {"action": "everything", "reason": "privacy"})
    assert "Privacy worries" in signed_in.get(reverse("preferences:history")).content.decode()
