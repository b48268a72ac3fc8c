"""The sender's API: links and List-Unsubscribe headers per message, allow/deny with a reason, why, and what
was sent."""

import gc
import hashlib
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as email_policy
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from apps.api.views import senders
from apps.catalog.models import BenefitKind
from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import (
    erase_customer,
    mark_address_undeliverable,
    publish_notice_version,
    record_choices,
)
from apps.customers.models import MessageRecord
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice

pytestmark = pytest.mark.embedded

NEW_DOORS = [
    ("post", "/api/v1/links", "links:write", {"recipients": [{"external_id": "x"}]}),
    ("post", "/api/v1/decisions", "permissions:read", {"decisions": []}),
    ("get", "/api/v1/customers/x/explain?channel=email&topic=news", "consents:read", None),
    ("post", "/api/v1/messages", "messages:write", {"messages": []}),
]


def allowing_news_by_push(customer, **frequency):
    """The customer allows news by push, in real time unless ``frequency`` says otherwise."""
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:push"),
            make_choice("topic:news", value={"channels": ["push"]}),
            make_choice("frequency", value={"digest": "real_time", **frequency}),
        ],
        provenance=Provenance(source="web", actor="customer"),
    )


def decide(api, *items):
    response = api.post("/api/v1/decisions", {"decisions": list(items)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["decisions"]


# --- who may call -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "scope", "body"), NEW_DOORS)
def test_a_caller_without_a_key_is_refused(catalog, method, url, scope, body):
    response = getattr(Client(), method)(url, body, content_type="application/json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "url", "scope", "body"), NEW_DOORS)
def test_a_key_without_the_scope_is_refused(catalog, make_api, method, url, scope, body):
    others = [
        other
        for other in ("permissions:read", "consents:read", "links:write", "messages:write")
        if other != scope
    ]
    response = getattr(make_api(scopes=others), method)(url, body, format="json")
    assert response.status_code == 403
    assert MessageRecord.objects.count() == 0


def test_the_new_endpoints_are_in_the_openapi_schema(db, client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in (
        "/api/v1/links",
        "/api/v1/decisions",
        "/api/v1/messages",
        "/api/v1/customers/{external_id}/explain",
    ):
        assert path in paths


# --- links ----------------------------------------------------------------------------------------------------


def test_links_answer_the_page_link_and_the_exact_one_click_headers_per_recipient(catalog, make_api):
    customer = CustomerFactory()
    api = make_api(scopes=["links:write"])
    response = api.post(
        "/api/v1/links",
        {"recipients": [{"external_id": customer.external_id, "topic": "offers"}]},
        format="json",
    )
    assert response.status_code == 200
    (link,) = response.json()["links"]
    assert link["headers"]["list_unsubscribe"] == f"<{link['unsubscribe_url']}>"
    assert link["headers"]["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/topic:offers/" in link["unsubscribe_url"]
    assert Client().get(urlsplit(link["page_url"]).path).status_code == 302  # opens the customer's page


def test_the_one_click_url_from_a_message_withdraws_that_topic_by_email_and_nothing_else(catalog, make_api):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:email"),
            make_choice("topic:offers", value={"channels": ["email", "sms"]}),
            make_choice("topic:news", value={"channels": ["email"]}),
        ],
        provenance=Provenance(source="import", actor="import:legacy"),
    )
    before = ConsentEvent.objects.filter(customer=customer).count()
    api = make_api(scopes=["links:write"])
    (link,) = api.post(
        "/api/v1/links",
        {"recipients": [{"external_id": customer.external_id, "topic": "offers"}]},
        format="json",
    ).json()["links"]
    message = EmailMessage()
    message["To"] = customer.email
    message["Subject"] = "This week's offers"
    message["List-Unsubscribe"] = link["headers"]["list_unsubscribe"]
    message["List-Unsubscribe-Post"] = link["headers"]["list_unsubscribe_post"]
    message.set_content("Offers.")
    received = BytesParser(policy=email_policy).parsebytes(message.as_bytes())

    # What a mailbox provider does (RFC 8058): POST the header's HTTPS URI with the List-Unsubscribe-Post body.
    url = str(received["List-Unsubscribe"]).strip("<>")
    response = Client().post(
        urlsplit(url).path,
        data=str(received["List-Unsubscribe-Post"]),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    (event,) = ConsentEvent.objects.filter(customer=customer, sequence__gt=before)
    assert (event.purpose, event.source, event.value) == (
        "topic:offers",
        "one_click_unsubscribe",
        {"channels": ["sms"]},
    )
    choices = Snapshot.objects.get(customer=customer).choices
    assert choices["channel:email"]["state"] == "given"
    assert choices["topic:news"]["value"] == {"channels": ["email"]}


def test_links_for_an_unknown_customer_are_refused_with_a_pointer(catalog, make_api):
    response = make_api(scopes=["links:write"]).post(
        "/api/v1/links",
        {"recipients": [{"external_id": CustomerFactory().external_id}, {"external_id": "nobody"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"pointer": "#/recipients/1/external_id", "detail": "No customer with this external id."}
    ]


def test_links_take_at_most_a_thousand_recipients(catalog, make_api):
    recipients = [{"external_id": "x"}] * 1001
    response = make_api(scopes=["links:write"]).post(
        "/api/v1/links", {"recipients": recipients}, format="json"
    )
    assert response.status_code == 400


# --- decisions ------------------------------------------------------------------------------------------------


def test_a_decision_allows_what_the_customer_allowed_and_says_why_not_otherwise(catalog, api):
    allowing = CustomerFactory()
    allowing_news_by_push(allowing)
    unconfirmed = CustomerFactory()
    record_choices(
        customer=unconfirmed,
        choices=[make_choice("channel:email")],
        provenance=Provenance(source="web", actor="customer"),
    )
    erased = CustomerFactory()
    erase_customer(customer=erased, source="support_agent", actor="staff:1")
    no_address = CustomerFactory(email="")
    answers = decide(
        api,
        {"external_id": allowing.external_id, "channel": "push", "topic": "news"},
        {"external_id": allowing.external_id, "channel": "email", "topic": "news"},
        {"external_id": unconfirmed.external_id, "channel": "email", "topic": "news"},
        {"external_id": erased.external_id, "channel": "email", "topic": "news"},
        {"external_id": "nobody", "channel": "email", "topic": "news"},
        {"external_id": no_address.external_id, "channel": "email", "topic": "orders"},
        {"external_id": allowing.external_id, "channel": "email", "topic": "orders"},
    )
    assert [(answer["decision"], answer["reason"]) for answer in answers] == [
        ("allow", "given"),
        ("deny", "no_consent"),
        ("deny", "requested_unconfirmed"),
        ("deny", "erased"),
        ("deny", "unknown"),
        ("deny", "undeliverable"),
        ("allow", "required"),
    ]


def test_an_address_flagged_by_a_bounce_is_denied_as_undeliverable_from_the_flag_on(catalog, api):
    customer = CustomerFactory()
    bounced_at = timezone.now() - timedelta(hours=1)
    mark_address_undeliverable(customer=customer, at=bounced_at)
    ask = {"external_id": customer.external_id, "channel": "email", "topic": "orders"}
    before, after = decide(
        api,
        {**ask, "at": (bounced_at - timedelta(seconds=1)).isoformat()},
        {**ask, "at": bounced_at.isoformat()},
    )
    document = Snapshot.objects.get(customer=customer).document.body
    assert document["channels"]["email"]["undeliverable_since"] == bounced_at.astimezone(UTC).isoformat()
    assert [(before["decision"], before["reason"]), (after["decision"], after["reason"])] == [
        ("allow", "required"),
        ("deny", "undeliverable"),
    ]


def test_a_withdrawn_consent_is_denied_as_withdrawn(catalog, api):
    customer = CustomerFactory()
    allowing_news_by_push(customer)
    record_choices(
        customer=customer,
        choices=[make_choice("channel:push", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    (answer,) = decide(api, {"external_id": customer.external_id, "channel": "push", "topic": "news"})
    assert answer["reason"] == "withdrawn"


def test_quiet_hours_deny_until_they_end_in_the_customers_own_time_zone(catalog, api):
    customer = CustomerFactory()
    allowing_news_by_push(
        customer, quiet_hours={"start": "22:00", "end": "07:00", "timezone": "America/New_York"}
    )
    # 03:00 UTC on 15 Jan is 22:00 in New York (EST, UTC-5): quiet until 07:00 there, 12:00 UTC.
    (answer,) = decide(
        api,
        {
            "external_id": customer.external_id,
            "channel": "push",
            "topic": "news",
            "at": "2027-01-15T03:00:00Z",
        },
    )
    assert (answer["decision"], answer["reason"], answer["until"]) == (
        "deny",
        "quiet_hours_until",
        "2027-01-15T12:00:00Z",
    )


def test_a_time_boxed_consent_is_denied_from_the_instant_it_ends_though_no_expiry_task_ran(catalog, api):
    customer = CustomerFactory()
    ends = timezone.now() + timedelta(days=2)
    record_choices(
        customer=customer,
        choices=[
            make_choice("channel:push", expires_at=ends),
            make_choice("topic:news", value={"channels": ["push"]}),
            make_choice("frequency", value={"digest": "real_time"}),
        ],
        provenance=Provenance(source="web", actor="customer"),
    )
    just_before, at_the_end = (ends - timedelta(microseconds=1)).isoformat(), ends.isoformat()
    answers = decide(
        api,
        {"external_id": customer.external_id, "channel": "push", "topic": "news", "at": just_before},
        {"external_id": customer.external_id, "channel": "push", "topic": "news", "at": at_the_end},
    )
    assert [answer["decision"] for answer in answers] == ["allow", "deny"]
    assert answers[1]["reason"] == "no_consent"


def test_a_digest_customer_gets_the_digest_but_no_single_messages(catalog, api):
    customer = CustomerFactory()
    allowing_news_by_push(customer, digest="weekly")
    single, digest = decide(
        api,
        {"external_id": customer.external_id, "channel": "push", "topic": "news"},
        {"external_id": customer.external_id, "channel": "push", "topic": "news", "digest": True},
    )
    assert (single["reason"], digest["decision"]) == ("digest_only", "allow")


def test_the_weekly_cap_counts_the_messages_reported_this_week_and_ends_on_monday(catalog, make_api):
    customer = CustomerFactory()
    allowing_news_by_push(customer, weekly_cap=2)
    api = make_api(scopes=["permissions:read", "messages:write"])
    with time_machine.travel(datetime(2027, 1, 13, 12, tzinfo=UTC), tick=False):  # a Wednesday
        for number in (1, 2):
            api.post(
                "/api/v1/messages",
                {
                    "messages": [
                        {
                            "external_id": customer.external_id,
                            "channel": "push",
                            "topic": "news",
                            "message_id": f"m{number}",
                            "sent_at": "2027-01-12T09:00:00Z",
                        }
                    ]
                },
                format="json",
            )
        (answer,) = decide(api, {"external_id": customer.external_id, "channel": "push", "topic": "news"})
    assert (answer["reason"], answer["until"]) == ("weekly_cap_reached", "2027-01-18T00:00:00Z")


def test_a_bad_decision_item_is_refused_with_a_pointer_and_no_answers(catalog, api):
    response = api.post(
        "/api/v1/decisions",
        {
            "decisions": [
                {"external_id": "a", "channel": "email", "topic": "news"},
                {"external_id": "a", "channel": "fax", "topic": "news"},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"pointer": "#/decisions/1/channel", "detail": "Unknown channel 'fax'."}
    ]


def test_a_decision_batch_holds_at_most_ten_thousand(catalog, api):
    items = [{"external_id": "a", "channel": "email", "topic": "news"}] * 10_001
    assert api.post("/api/v1/decisions", {"decisions": items}, format="json").status_code == 400


def test_a_decision_batch_pauses_the_garbage_collector_only_while_it_runs(catalog, api, monkeypatch):
    seen = []
    monkeypatch.setattr(senders, "decisions", lambda asked: seen.append(gc.isenabled()) or [])
    assert api.post("/api/v1/decisions", {"decisions": []}, format="json").status_code == 200
    refused = api.post("/api/v1/decisions", {"decisions": [{"channel": "fax"}]}, format="json")
    assert (seen, refused.status_code, gc.isenabled()) == ([False], 400, True)


def test_a_decision_batch_leaves_a_collector_switched_off_elsewhere_off(catalog, api):
    gc.disable()
    try:
        assert api.post("/api/v1/decisions", {"decisions": []}, format="json").status_code == 200
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- explain ----------------------------------------------------------------------------------------------------


def test_the_explanation_names_the_failing_rule_and_the_event_with_its_wording(catalog, api):
    customer = CustomerFactory()
    allowing_news_by_push(customer)
    record_choices(
        customer=customer,
        choices=[make_choice("channel:push", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    body = api.get(
        f"/api/v1/customers/{customer.external_id}/explain", {"channel": "push", "topic": "news"}
    ).json()
    assert (body["decision"], body["reason"]) == ("deny", "withdrawn")
    failing = next(step for step in body["steps"] if not step["passed"])
    assert (failing["rule"], failing["purpose"], failing["event"]) == ("channel", "channel:push", 4)
    event = next(event for event in body["events"] if event["purpose"] == "channel:push")
    assert (event["state"], event["source"]) == ("withdrawn", "web")
    assert event["wording"]["what_we_ask"] == "[en] May we? (channel:push v1)"


def test_the_explanation_gives_the_example_the_customer_was_shown(catalog, api):
    push = current_notice_version("channel:push").notice
    publish_notice_version(version=NoticeVersionFactory(notice=push, texts__example="“Boots back in 42.”"))
    customer = CustomerFactory()
    allowing_news_by_push(customer)
    body = api.get(
        f"/api/v1/customers/{customer.external_id}/explain", {"channel": "push", "topic": "news"}
    ).json()
    wording = {event["purpose"]: event["wording"] for event in body["events"]}
    assert wording["channel:push"]["example"] == "[en] “Boots back in 42.”"
    assert wording["topic:news"]["example"] == ""


def test_the_explanation_chain_recomputes_from_the_canonical_bytes(catalog, api):
    customer = CustomerFactory()
    allowing_news_by_push(customer)
    record_choices(
        customer=customer,
        choices=[make_choice("topic:news", value={"channels": ["push", "email"]})],
        provenance=Provenance(source="web", actor="customer"),
        ip_address="203.0.113.9",
    )
    body = api.get(
        f"/api/v1/customers/{customer.external_id}/explain", {"channel": "push", "topic": "news"}
    ).json()

    previous = "0" * 64
    for link in body["chain"]:
        canonical = json.dumps(link["canonical"], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert link["canonical"]["prev_hash"] == link["prev_hash"] == previous
        assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == link["hash"]
        previous = link["hash"]
    assert [link["sequence"] for link in body["chain"]] == [1, 2, 3, 4]
    assert previous == ConsentEvent.objects.get(customer=customer, sequence=4).hash


def test_the_explanation_of_a_past_instant_comes_from_the_ledger_as_it_was(catalog, api):
    customer = CustomerFactory()
    allowing_news_by_push(customer)
    given_at = ConsentEvent.objects.get(customer=customer, sequence=1).recorded_at
    record_choices(
        customer=customer,
        choices=[make_choice("channel:push", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )
    body = api.get(
        f"/api/v1/customers/{customer.external_id}/explain",
        {"channel": "push", "topic": "news", "at": given_at.isoformat()},
    ).json()
    assert (body["decision"], [link["sequence"] for link in body["chain"]]) == ("allow", [1, 2, 3])


# --- messages ---------------------------------------------------------------------------------------------------


def report(api, *messages):
    return api.post("/api/v1/messages", {"messages": list(messages)}, format="json")


def message(customer, message_id="m-1", **fields):
    return {
        "external_id": customer.external_id,
        "channel": "push",
        "topic": "news",
        "message_id": message_id,
        "sent_at": "2026-11-12T09:00:00Z",
        **fields,
    }


def test_a_reported_message_is_kept_once_however_often_it_is_reported(catalog, make_api):
    customer = CustomerFactory()
    BenefitKind.objects.create(
        code="restock", label={"en": "back in stock"}, unit_one={"en": "alert"}, unit_other={"en": "alerts"}
    )
    api = make_api(scopes=["messages:write"])
    first = report(api, message(customer, benefit="restock"))
    again = report(api, message(customer, benefit="restock"), message(customer, "m-2"))
    assert (first.status_code, first.json()) == (201, {"recorded": 1, "already_recorded": 0})
    assert again.json() == {"recorded": 1, "already_recorded": 1}
    assert MessageRecord.objects.filter(customer=customer).count() == 2


def test_a_batch_with_one_bad_message_keeps_nothing(catalog, make_api):
    customer = CustomerFactory()
    response = report(
        make_api(scopes=["messages:write"]),
        message(customer),
        message(customer, "m-2", channel="sms"),
        message(customer, "m-3", benefit="no-such-kind"),
    )
    assert response.status_code == 400
    assert [error["pointer"] for error in response.json()["errors"]] == [
        "#/messages/1/channel",
        "#/messages/2/benefit",
    ]
    assert MessageRecord.objects.count() == 0
