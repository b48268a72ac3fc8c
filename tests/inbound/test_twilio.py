import pytest
from django.utils import timezone

from apps.consent.models import ConsentEvent, InboundReport
from apps.consent.rules import Provenance, withdrawal_choices
from apps.consent.services import record_choices, record_inbound_report
from apps.customers.models import HeldMessage
from tests.factories import make_choice

from .conftest import allowed, ledger, twilio_post

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.mark.embedded
def test_a_signed_stop_withdraws_texts_and_confirms_once_without_marketing(client, customer, twilio):
    response = twilio_post(client, twilio, Body="STOP")

    assert response.status_code == 200
    assert response.content.count(b"<Message>") == 1
    assert b"no more texts" in response.content
    assert not allowed(customer, "sms")["allowed"]
    [event] = ledger(customer, source="twilio")
    assert (event.purpose, event.state, event.actor) == ("channel:sms", "withdrawn", "inbound:texts")


def test_the_receipt_keeps_receipt_time_and_deadline_and_the_ledger_no_text_or_number(
    client, customer, twilio
):
    twilio_post(client, twilio, Body="please stop texting me", MessageSid="SM" + "a" * 32)

    [event] = ledger(customer, source="twilio")
    report = InboundReport.objects.get(event_id="SM" + "a" * 32)
    assert report.ledger_events == [event.pk]
    assert report.received_at <= report.recorded_at == event.recorded_at
    assert (report.deadline_at - report.received_at).days >= 12  # ten business days
    assert event.captured_at == report.occurred_at
    assert "texting" not in str(event.canonical_bytes())
    assert customer.phone not in str(event.canonical_bytes())


def test_a_forged_signature_is_refused_and_records_nothing(client, customer, twilio):
    response = twilio_post(client, twilio, token="not-the-auth-token", Body="STOP")

    assert response.status_code == 401
    assert allowed(customer, "sms")["allowed"]
    assert not InboundReport.objects.exists()


def test_a_request_without_signature_is_refused(client, customer, twilio):
    response = client.post(
        f"/inbound/{twilio.name}/", {"MessageSid": "SM1", "From": customer.phone, "Body": "STOP"}
    )

    assert response.status_code == 401


def test_a_replayed_message_is_recorded_once(client, customer, twilio):
    sid = "SM" + "b" * 32
    twilio_post(client, twilio, Body="STOP", MessageSid=sid)
    again = twilio_post(client, twilio, Body="STOP", MessageSid=sid)

    assert again.status_code == 200
    assert b"<Message>" not in again.content
    assert len(ledger(customer, source="twilio")) == 1


def test_advanced_opt_out_is_honoured_and_twilio_alone_confirms(client, customer, twilio):
    response = twilio_post(client, twilio, Body="Stop", OptOutType="STOP")

    assert not allowed(customer, "sms")["allowed"]
    assert b"<Message>" not in response.content


def test_start_from_the_same_number_regrants_texts(client, customer, twilio):
    twilio_post(client, twilio, Body="STOP")
    response = twilio_post(client, twilio, Body="START")

    assert allowed(customer, "sms")["allowed"]
    assert b"on again" in response.content


def test_help_answers_with_the_help_text_and_records_nothing(client, customer, twilio):
    twilio.help_text = "Candor help: reply STOP to stop."
    twilio.save()

    response = twilio_post(client, twilio, Body="HELP")

    assert b"Candor help: reply STOP to stop." in response.content
    assert not ledger(customer, source="twilio")


def test_a_german_customers_stop_is_confirmed_in_german(client, customer, twilio):
    customer.locale = "de"
    customer.save(update_fields=["locale"])

    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = twilio_post(client, twilio, Body="STOPP")

    assert "Sie erhalten keine SMS mehr von uns" in response.content.decode()


def test_a_german_customers_help_is_answered_in_german_when_no_help_text_is_set(client, customer, twilio):
    customer.locale = "de"
    customer.save(update_fields=["locale"])

    response = twilio_post(client, twilio, Body="HILFE")

    assert "Antworten Sie STOPP" in response.content.decode()


def test_an_english_customers_stop_is_confirmed_in_english_whatever_the_request_asks(
    client, customer, twilio
):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"
    response = twilio_post(client, twilio, Body="STOP")

    assert b"you will get no more texts from us" in response.content


def test_an_ambiguous_text_waits_for_staff_with_its_deadline_and_stays_out_of_the_ledger(
    client, customer, twilio
):
    response = twilio_post(client, twilio, Body="wrong number")

    [held] = HeldMessage.objects.all()
    assert (held.customer, held.body, held.channel) == (customer, "wrong number", "sms")
    assert (held.deadline_at - held.received_at).days >= 12  # ten business days
    assert b"<Message>" not in response.content
    assert allowed(customer, "sms")["allowed"]
    assert not ConsentEvent.objects.filter(evidence__icontains="wrong number").exists()


def test_a_stop_from_an_unknown_number_is_confirmed_and_kept_without_a_customer(client, customer, twilio):
    response = twilio_post(client, twilio, Body="STOP", From="+15550000000")

    assert b"<Message>" in response.content
    assert InboundReport.objects.get().outcome == "unknown_customer"


def test_an_unknown_source_is_not_found(client, catalog):
    assert client.post("/inbound/nobody/", {"Body": "STOP"}).status_code == 404


def test_a_get_to_a_signed_source_is_not_allowed(client, twilio):
    assert client.get(f"/inbound/{twilio.name}/").status_code == 405


def test_a_disabled_source_is_not_found(client, customer, twilio):
    twilio.enabled = False
    twilio.save()

    assert twilio_post(client, twilio, Body="STOP").status_code == 404
    assert allowed(customer, "sms")["allowed"]


def test_a_report_is_decided_on_the_choices_the_customer_holds_when_it_is_recorded(customer, twilio):
    """What a report withdraws is worked out under the write path's lock from the choices held then, not from
    the read that found the customer: a change committed in between (email taken off the offers) stays."""
    decide = lambda current, rules: withdrawal_choices(current, rules, "sms", ("offers",))  # noqa: E731
    record_choices(
        customer=customer,
        choices=[make_choice("topic:offers", value={"channels": ["sms"]})],
        provenance=Provenance(source="web", actor="customer"),
    )
    now = timezone.now()
    report = InboundReport(
        source_name=twilio.name,
        provider="twilio",
        event_id="SM" + "c" * 32,
        kind="sms",
        customer=customer,
        channel="sms",
        revocation=True,
        occurred_at=now,
        received_at=now,
    )

    kept, _ = record_inbound_report(report=report, decide=decide)

    assert kept.outcome == InboundReport.Outcome.RECORDED
    customer.consent_snapshot.refresh_from_db()
    assert customer.consent_snapshot.choices["topic:offers"]["state"] == "withdrawn"
