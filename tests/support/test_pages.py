"""The console's pages as an agent and a privacy officer use them."""

import hashlib
import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent
from apps.consent.rules import Provenance
from apps.consent.services import evidence_hash, publish_notice_version, record_choices
from apps.customers.models import EvidenceNote, MessageRecord
from apps.customers.services import record_exposures
from apps.delivery.services import fan_out_outbox
from apps.support.models import StaffAccess
from tests.delivery.factories import DestinationFactory
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice

from .conftest import sign_in


def test_search_finds_by_exact_email_phone_external_id_and_part_of_a_name(
    agent_client, customer_with_history
):
    CustomerFactory(name="Grace Hopper")
    for query in [
        "ada@example.com",
        "ADA@example.com",
        "+49 151 1234 5678",
        customer_with_history.external_id,
        "lovel",
    ]:
        response = agent_client.get(reverse("support:search"), {"q": query})
        assert response.status_code == 200
        assert list(response.context["page"].customers) == [customer_with_history], query


def test_search_pages_by_id_not_offset(agent_client, db):
    customers = [CustomerFactory(name=f"Smith {n}") for n in range(30)]
    first = agent_client.get(reverse("support:search"), {"q": "smith"}).context["page"]
    assert len(first.customers) == 25
    second = agent_client.get(reverse("support:search"), {"q": "smith", "after": first.next_after}).context[
        "page"
    ]
    assert [c.pk for c in first.customers + second.customers] == [c.pk for c in customers]
    assert second.next_after is None


def test_search_for_two_letters_only_matches_exactly(agent_client, db):
    CustomerFactory(name="Al Smith")
    page = agent_client.get(reverse("support:search"), {"q": "al"}).context["page"]
    assert page.customers == []
    assert page.too_short


def test_search_answers_htmx_with_the_results_region_only(agent_client, customer_with_history):
    response = agent_client.get(reverse("support:search"), {"q": "lovel"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body


def test_a_search_is_logged_without_the_query(agent_client, agent, customer_with_history):
    agent_client.get(reverse("support:search"), {"q": "ada@example.com"})
    entry = StaffAccess.objects.get(what="search")
    assert entry.staff == agent
    assert "ada" not in entry.detail
    assert "results=1" in entry.detail


def test_glance_shows_state_per_purpose_document_and_pause(agent_client, customer_with_history):
    response = agent_client.get(reverse("support:customer", args=[customer_with_history.pk]))
    assert response.status_code == 200
    rows = {row.purpose: row for row in response.context["glance"].rows}
    assert rows["channel:sms"].state == "given"
    assert rows["channel:sms"].in_force
    assert rows["location"].state == "withdrawn"
    assert rows["channel:push"].state == "not_asked"
    assert response.context["glance"].document.body["channels"]["sms"]["allowed"] is True
    assert b"Not paused" in response.content


def test_opening_a_customer_is_logged_with_who_when_and_what(agent_client, agent, customer_with_history):
    agent_client.get(reverse("support:timeline", args=[customer_with_history.pk]), {"purpose": "location"})
    entry = StaffAccess.objects.get(customer=customer_with_history)
    assert (entry.staff, entry.what, entry.detail) == (agent, "timeline", "purpose=location")
    assert entry.at is not None


def test_timeline_is_newest_first_with_old_to_new_wording_source_actor_and_evidence(
    agent_client, customer_with_history
):
    response = agent_client.get(reverse("support:timeline", args=[customer_with_history.pk]))
    entries = response.context["entries"]
    assert [entry.event.sequence for entry in entries] == [4, 3, 2, 1]
    newest = entries[0]
    assert newest.event.purpose == "location"
    assert (newest.before_state_label, newest.state_label) == ("Given", "Withdrawn")
    assert newest.before_value_text == "level: city"
    assert newest.actor_label == "API client crm"
    assert newest.source_label == "API"
    assert "May we? (location v1)" in newest.wording.what_we_ask
    body = response.content.decode()
    assert "[en] May we? (location v1)" in body
    assert "ip hash" in body.lower()


def test_timeline_shows_the_example_the_customer_was_shown(agent_client, catalog):
    sms = current_notice_version("channel:sms").notice
    publish_notice_version(version=NoticeVersionFactory(notice=sms, texts__example="“Your size is back.”"))
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    page = agent_client.get(reverse("support:timeline", args=[customer.pk])).content.decode()
    assert "<p><strong>For example:</strong> [en] “Your size is back.”</p>" in page


def test_timeline_filters_by_purpose_and_source(agent_client, customer_with_history):
    url = reverse("support:timeline", args=[customer_with_history.pk])
    by_purpose = agent_client.get(url, {"purpose": "location"}).context["entries"]
    assert [entry.event.sequence for entry in by_purpose] == [4, 3]
    by_source = agent_client.get(url, {"source": "api"}).context["entries"]
    assert [entry.event.sequence for entry in by_source] == [4]
    partial = agent_client.get(url, {"source": "api"}, HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<section id="events"')


def test_timeline_shows_the_wording_in_the_customers_language(agent_client, catalog):
    customer = CustomerFactory(locale="de")
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
        language="de",
    )
    entry = agent_client.get(reverse("support:timeline", args=[customer.pk])).context["entries"][0]
    assert entry.wording.language == "de"
    assert entry.wording.what_we_ask.startswith("[de]")


def test_agent_records_a_phone_request_through_the_write_path(agent_client, agent, customer_with_history):
    url = reverse("support:change", args=[customer_with_history.pk])
    assert agent_client.get(url).status_code == 200
    response = agent_client.post(
        url, {"channel:sms|answer": "no", "how_asked": "phone", "note": "Asked to stop all texts."}
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.filter(customer=customer_with_history).latest("sequence")
    assert (event.purpose, event.state, event.source, event.actor) == (
        "channel:sms",
        "withdrawn",
        "support_agent",
        f"staff:{agent.pk}",
    )
    note = EvidenceNote.objects.get(customer=customer_with_history)
    assert note.text == "Asked to stop all texts."
    assert event.evidence == {
        "how_asked": "phone",
        "note_id": note.pk,
        "note_hash": evidence_hash("Asked to stop all texts."),
    }
    assert StaffAccess.objects.filter(what="recorded_change", customer=customer_with_history).exists()
    timeline = agent_client.get(response["Location"])
    assert "Asked to stop all texts." in timeline.content.decode()
    assert f"Agent {agent.username} (staff #{agent.pk})" in timeline.content.decode()


def test_an_agent_cannot_record_texts_for_an_unverified_number(agent_client, catalog):
    customer = CustomerFactory(phone="+4915112340000", phone_verified_at=None)
    response = agent_client.post(
        reverse("support:change", args=[customer.pk]),
        {"channel:sms|answer": "yes", "how_asked": "phone", "note": "Texts please."},
    )
    assert response.status_code == 400
    assert "verified number" in response.content.decode()
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_a_no_to_what_the_customer_already_refused_records_nothing_and_says_so(
    agent_client, customer_with_history
):
    url = reverse("support:change", args=[customer_with_history.pk])
    agent_client.post(url, {"channel:sms|answer": "no", "how_asked": "phone", "note": "Stop texts."})
    before = ConsentEvent.objects.count()
    response = agent_client.post(url, {"channel:sms|answer": "no", "how_asked": "phone", "note": "Stop!"})
    assert response.status_code == 400
    assert ConsentEvent.objects.count() == before
    assert "already recorded" in str(response.context["form"].non_field_errors())


def test_agent_records_values_a_yes_needs(agent_client, customer_with_history):
    url = reverse("support:change", args=[customer_with_history.pk])
    response = agent_client.post(
        url,
        {
            "topic:news|answer": "yes",
            "topic:news|channels": ["push"],
            "frequency|answer": "yes",
            "frequency|digest": "monthly",
            "frequency|paused_until": "2099-01-31",
            "personalization|answer": "yes",
            "personalization|depth": "interests",
            "how_asked": "letter",
            "note": "Letter of 3 March.",
        },
    )
    assert response.status_code == 302
    events = {
        e.purpose: e
        for e in ConsentEvent.objects.filter(customer=customer_with_history, source="support_agent")
    }
    assert events["topic:news"].value == {"channels": ["push"]}
    assert events["frequency"].value["digest"] == "monthly"
    assert events["frequency"].value["paused_until"] == "2099-01-31"
    assert events["personalization"].value == {"depth": "interests"}
    glance = agent_client.get(reverse("support:customer", args=[customer_with_history.pk]))
    assert glance.context["glance"].paused_until == "2099-01-31"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"channel:sms|answer": "no", "how_asked": "phone"}, "note"),
        ({"channel:sms|answer": "no", "note": "Stop texts."}, "how_asked"),
        ({"how_asked": "phone", "note": "Nothing chosen."}, None),
        ({"topic:news|answer": "yes", "how_asked": "phone", "note": "News please."}, "topic:news|channels"),
    ],
)
def test_an_incomplete_request_writes_nothing(agent_client, customer_with_history, data, field):
    before = ConsentEvent.objects.count()
    response = agent_client.post(reverse("support:change", args=[customer_with_history.pk]), data)
    assert response.status_code == 400
    assert ConsentEvent.objects.count() == before
    form = response.context["form"]
    assert (field in form.errors) if field else form.non_field_errors()


def test_the_change_form_answers_htmx_with_the_form_only(agent_client, customer_with_history):
    response = agent_client.post(
        reverse("support:change", args=[customer_with_history.pk]),
        {"how_asked": "phone", "note": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert response.content.decode().lstrip().startswith('<form method="post"')


def test_proof_json_is_shaped_on_27560_with_chain_hashes(officer_client, customer_with_history):
    response = officer_client.get(reverse("support:proof_json", args=[customer_with_history.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    proof = json.loads(response.content)
    assert proof["pii_principal_id"] == f"candor:customer:{customer_with_history.pk}"
    assert proof["ledger"]["verifies"] is True
    events = ConsentEvent.objects.filter(customer=customer_with_history).order_by("sequence")
    assert [(e["sequence"], e["hash"], e["prev_hash"]) for e in proof["events"]] == [
        (e.sequence, e.hash, e.prev_hash) for e in events
    ]
    # Anyone can recompute each hash from the canonical fields in the proof, without our code.
    for item in proof["events"]:
        canonical = json.dumps(item["canonical"], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert hashlib.sha256(canonical.encode()).hexdigest() == item["hash"]
    notice = next(n for n in proof["notices"] if n["notice_id"] == "location")
    assert notice["notice_content"]["en"]["what_we_ask"].startswith("[en] May we?")
    assert notice["notice_hash"]


def test_proof_for_one_purpose(officer_client, customer_with_history):
    proof = officer_client.get(
        reverse("support:proof_json", args=[customer_with_history.pk]), {"purpose": "location"}
    ).json()
    assert {e["purpose_id"] for e in proof["events"]} == {"location"}
    assert [p["purpose_id"] for p in proof["processing"]] == ["location"]
    page = officer_client.get(
        reverse("support:proof", args=[customer_with_history.pk]), {"purpose": "location"}
    )
    assert page.status_code == 200
    assert proof["events"][0]["hash"] in page.content.decode()


def test_access_export_holds_everything_as_one_json_download(officer_client, customer_with_history):
    DestinationFactory(name="crm")
    fan_out_outbox()
    response = officer_client.get(reverse("support:access_export", args=[customer_with_history.pk]))
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    held = json.loads(response.content)
    assert held["customer"]["email"] == "ada@example.com"
    assert len(held["consent_events"]) == 4
    assert held["permission_documents"]
    assert held["current_choices"]["channel:sms"]["state"] == "given"
    assert held["staff_access"][-1]["what"] == "access_export"
    assert [(d["destination"], d["version"], d["status"]) for d in held["deliveries"]] == [
        ("crm", 1, "pending"),
        ("crm", 2, "pending"),
    ]


def test_officer_sees_the_access_log(officer_client, agent, customer_with_history):
    sign_in(Client(), agent).get(reverse("support:customer", args=[customer_with_history.pk]))
    response = officer_client.get(reverse("support:access_log"), {"customer": customer_with_history.pk})
    assert response.status_code == 200
    assert [entry.what for entry in response.context["entries"]] == ["glance"]


def test_officer_verifies_the_ledger(officer_client, customer_with_history):
    response = officer_client.post(reverse("support:ledger"))
    assert response.status_code == 200
    assert b"The ledger verifies" in response.content


def test_a_change_recorded_by_htmx_sends_the_browser_to_the_timeline(agent_client, customer_with_history):
    response = agent_client.post(
        reverse("support:change", args=[customer_with_history.pk]),
        {"channel:sms|answer": "no", "how_asked": "phone", "note": "Stop texts."},
        HTTP_HX_REQUEST="true",
    )
    assert response["HX-Redirect"] == reverse("support:timeline", args=[customer_with_history.pk])


def test_an_exact_match_is_the_answer_even_when_others_contain_the_query(agent_client, db):
    ann = CustomerFactory(email="ann@example.com")
    CustomerFactory(email="joann@example.com")
    page = agent_client.get(reverse("support:search"), {"q": "Ann@example.com"}).context["page"]
    assert page.customers == [ann]
    partial = agent_client.get(reverse("support:search"), {"q": "nn@example"}).context["page"]
    assert len(partial.customers) == 2


def test_officer_verifies_one_customers_chain(officer_client, customer_with_history):
    response = officer_client.post(reverse("support:ledger"), {"customer": customer_with_history.pk})
    assert response.context["result"]["events"] == 4
    assert b"The ledger verifies" in response.content


def test_email_consent_an_agent_records_sends_candors_confirmation_mail(
    catalog, agent_client, django_capture_on_commit_callbacks, mailoutbox
):
    customer = CustomerFactory(locale="de")
    url = reverse("support:change", args=[customer.pk])
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(
            url, {"channel:email|answer": "yes", "how_asked": "phone", "note": "Wants our emails."}
        )
    assert ConsentEvent.objects.get(customer=customer).state == "requested"
    assert [message.to for message in mailoutbox] == [[customer.email]]
    assert mailoutbox[0].subject == "Bitte bestätigen Sie Ihre E-Mail-Adresse"


def test_an_agent_can_record_when_the_customer_actually_asked(agent_client, customer_with_history):
    url = reverse("support:change", args=[customer_with_history.pk])
    agent_client.post(
        url,
        {
            "channel:sms|answer": "no",
            "how_asked": "letter",
            "note": "Letter asking to stop texts.",
            "captured_at": "2026-01-05T09:30",
        },
    )
    event = ConsentEvent.objects.filter(customer=customer_with_history).latest("sequence")
    assert event.captured_at.isoformat() == "2026-01-05T09:30:00+00:00"


def test_access_export_includes_the_messages_senders_reported(officer_client, customer_with_history):
    MessageRecord.objects.create(
        customer=customer_with_history,
        sender="esp",
        message_id="m-1",
        channel="sms",
        topic="offers",
        sent_at=timezone.now(),
    )
    response = officer_client.get(reverse("support:access_export", args=[customer_with_history.pk]))
    (message,) = json.loads(response.content)["messages_received"]
    assert (message["sender"], message["message_id"], message["topic"]) == ("esp", "m-1", "offers")


def test_access_export_includes_the_notices_shown_to_the_customer(officer_client, customer_with_history):
    version = current_notice_version("channel:email")
    record_exposures(
        customer_id=customer_with_history.pk,
        notice_version_ids=[version.pk],
        surface="page",
        at=timezone.now(),
    )
    response = officer_client.get(reverse("support:access_export", args=[customer_with_history.pk]))
    (shown,) = json.loads(response.content)["notices_shown"]
    assert (shown["notice_version"], shown["surface"]) == (version.pk, "page")
