from django.core import mail
from django.core.signing import TimestampSigner
from django.urls import reverse

from apps.consent import evidence
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import erase_customer
from apps.customers.links import CONFIRM_EMAIL, UNSUBSCRIBE, make_token, rotate_link_key
from apps.preferences import leaving, sms
from tests.factories import make_choice

from .conftest import CHANNELS, nv

PAGE = "/preferences/"


def give(customer, *choices, source="import", actor="import:test"):
    from apps.consent.services import record_choices

    record_choices(
        customer=customer,
        choices=list(choices),
        provenance=Provenance(source=source, actor=actor),
    )


def latest(customer, purpose):
    return ConsentEvent.objects.filter(customer=customer, purpose=purpose).order_by("-sequence").first()


def permissions(customer):
    return Snapshot.objects.get(customer=customer).document.body


# ---- double opt-in ----


def test_the_confirmation_link_records_given_from_the_email_link(signed_in, customer, client):
    signed_in.post(PAGE, {"section": "channels", "channel": ["email"], **nv(*CHANNELS)})
    url = reverse("preferences:confirm_email", args=[make_token(customer, CONFIRM_EMAIL)])
    assert client.get(url).status_code == 200
    assert latest(customer, "channel:email").state == "requested"  # a GET (or a mail scanner) changes nothing
    response = client.post(url)
    assert "is confirmed" in response.content.decode()
    event = latest(customer, "channel:email")
    assert (event.state, event.source) == ("given", "email_link")
    assert permissions(customer)["channels"]["email"]["allowed"] is True


def test_a_confirmation_link_stops_working_when_the_address_changes(client, customer):
    url = reverse("preferences:confirm_email", args=[make_token(customer, CONFIRM_EMAIL)])
    customer.email = "new@example.com"
    customer.save()
    assert client.get(url).status_code == 400


def test_confirming_twice_changes_nothing_more(signed_in, customer, client):
    signed_in.post(PAGE, {"section": "channels", "channel": ["email"], **nv(*CHANNELS)})
    url = reverse("preferences:confirm_email", args=[make_token(customer, CONFIRM_EMAIL)])
    client.post(url)
    assert "already confirmed" in client.post(url).content.decode()
    assert ConsentEvent.objects.filter(customer=customer).count() == 2


def test_resend_sends_the_confirmation_again(signed_in, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(PAGE, {"section": "channels", "channel": ["email"], **nv(*CHANNELS)})
        signed_in.post(PAGE, {"action": "resend_email", "section": "channels"})
    assert len(mail.outbox) == 2


def test_resending_the_confirmation_is_rate_limited(
    signed_in, customer, settings, django_capture_on_commit_callbacks
):
    give(customer, make_choice("channel:email", state="requested"))
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            signed_in.post(PAGE, {"action": "resend_email", "section": "channels"}).status_code
            for _ in range(8)
        ]
    assert len(mail.outbox) == settings.EMAIL_CONFIRMATIONS_PER_HOUR
    assert answers[-1] == 400


def test_after_a_new_address_the_page_sends_the_link_there_and_it_allows_email_again(
    signed_in, customer, client, django_capture_on_commit_callbacks
):
    from apps.consent.services import change_identity

    give(customer, make_choice("channel:email"))
    customer, _ = change_identity(
        external_id=customer.external_id,
        email="jane@example.org",
        phone=customer.phone,
        source="api",
        actor="api:crm",
    )
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(PAGE, {"action": "resend_email", "section": "channels"})
    [message] = mail.outbox
    assert message.to == ["jane@example.org"]
    client.post(reverse("preferences:confirm_email", args=[make_token(customer, CONFIRM_EMAIL)]))
    assert permissions(customer)["channels"]["email"]["allowed"] is True


def test_after_a_new_number_switching_texts_on_sends_a_code_to_it(signed_in, customer):
    from apps.consent.services import change_identity
    from apps.customers.services import mark_phone_verified

    mark_phone_verified(customer=customer)
    give(customer, make_choice("channel:sms"))
    change_identity(
        external_id=customer.external_id,
        email=customer.email,
        phone="+491519876543",
        source="api",
        actor="api:crm",
    )
    signed_in.post(PAGE, {"section": "channels", "channel": ["sms"], **nv(*CHANNELS)})
    [text] = sms.outbox
    assert text["to"] == "+491519876543"
    assert permissions(customer)["channels"]["sms"]["allowed"] is False


# ---- SMS verification ----


def test_sms_needs_the_number_verified_by_code_first(signed_in, customer):
    response = signed_in.post(PAGE, {"section": "channels", "channel": ["sms"], **nv(*CHANNELS)})
    assert not ConsentEvent.objects.filter(customer=customer).exists()
    [text] = sms.outbox
    assert text["to"] == customer.phone
    code = text["text"].split("code is ")[1][:6]
    assert "sms-code" in signed_in.get(PAGE).content.decode()
    assert response.status_code == 302
    signed_in.post(PAGE, {"action": "verify_sms", "code": "000000" if code != "000000" else "111111"})
    assert not ConsentEvent.objects.filter(customer=customer).exists()
    signed_in.post(PAGE, {"action": "verify_sms", "code": code})
    event = latest(customer, "channel:sms")
    assert event.state == "given"
    customer.refresh_from_db()
    assert customer.phone_verified_at is not None


def test_without_an_sms_transport_switching_texts_on_says_so_and_records_nothing(
    signed_in, customer, settings
):
    settings.SMS_BACKEND = None  # SMS_BACKEND=none: production without an SMS provider
    response = signed_in.post(
        PAGE, {"section": "channels", "channel": ["sms"], **nv(*CHANNELS)}, HTTP_HX_REQUEST="true"
    )
    assert "We cannot send text messages at the moment." in response.content.decode()
    assert not ConsentEvent.objects.filter(customer=customer).exists()
    assert sms.outbox == []


def test_too_many_wrong_codes_end_the_attempt(signed_in, customer, settings):
    signed_in.post(PAGE, {"section": "channels", "channel": ["sms"], **nv(*CHANNELS)})
    code = sms.outbox[0]["text"].split("code is ")[1][:6]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.SMS_CODE_MAX_ATTEMPTS):
        signed_in.post(PAGE, {"action": "verify_sms", "code": wrong})
    signed_in.post(PAGE, {"action": "verify_sms", "code": code})
    assert not ConsentEvent.objects.filter(customer=customer).exists()


# ---- one-click unsubscribe (RFC 8058) ----


def unsubscribe_url(customer, scope):
    return reverse("preferences:unsubscribe", args=[scope, make_token(customer, UNSUBSCRIBE, scope)])


def test_one_click_post_unsubscribes_at_once(client, customer):
    give(customer, make_choice("channel:email"), make_choice("topic:news", value={"channels": ["email"]}))
    response = client.post(unsubscribe_url(customer, "channel:email"), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    event = latest(customer, "channel:email")
    assert (event.state, event.source) == ("withdrawn", "one_click_unsubscribe")
    assert permissions(customer)["channels"]["email"]["allowed"] is False


def test_a_get_of_the_unsubscribe_link_changes_nothing(client, customer):
    give(customer, make_choice("channel:email"))
    response = client.get(unsubscribe_url(customer, "channel:email"))
    assert response.status_code == 200
    assert 'value="One-Click"' in response.content.decode()
    assert latest(customer, "channel:email").state == "given"


def test_one_click_for_a_topic_keeps_its_other_channels(client, customer):
    give(customer, make_choice("topic:news", value={"channels": ["email", "push"]}))
    client.post(unsubscribe_url(customer, "topic:news"), {"List-Unsubscribe": "One-Click"})
    assert latest(customer, "topic:news").value == {"channels": ["push"]}


def test_one_click_needs_the_rfc_8058_body(client, customer):
    give(customer, make_choice("channel:email"))
    response = client.post(unsubscribe_url(customer, "channel:email"), {})
    assert response.status_code == 400
    assert latest(customer, "channel:email").state == "given"


def test_one_click_twice_records_once(client, customer):
    give(customer, make_choice("channel:email"))
    url = unsubscribe_url(customer, "channel:email")
    client.post(url, {"List-Unsubscribe": "One-Click"})
    client.post(url, {"List-Unsubscribe": "One-Click"})
    assert ConsentEvent.objects.filter(customer=customer, source="one_click_unsubscribe").count() == 1


def test_a_token_for_one_topic_does_not_unsubscribe_another(client, customer):
    give(customer, make_choice("channel:email"), make_choice("topic:news", value={"channels": ["email"]}))
    url = reverse(
        "preferences:unsubscribe", args=["channel:email", make_token(customer, UNSUBSCRIBE, "topic:news")]
    )
    assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert latest(customer, "channel:email").state == "given"
    assert latest(customer, "topic:news").state == "given"
    assert not ConsentEvent.objects.filter(customer=customer, source="one_click_unsubscribe").exists()


def test_an_unsubscribe_token_opens_no_page_and_mints_no_page_link(client, customer):
    give(customer, make_choice("channel:email"))
    response = client.post(
        unsubscribe_url(customer, "channel:email"), {"List-Unsubscribe": "One-Click", "from_page": "1"}
    )
    assert response.status_code == 200
    assert "/p/" not in response.content.decode()
    assert client.get(PAGE).status_code == 302  # still not signed in


def test_one_click_links_already_sent_keep_working_after_the_link_key_rotates(client, customer):
    give(customer, make_choice("channel:email"))
    url = unsubscribe_url(customer, "channel:email")
    rotate_link_key(customer)
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert latest(customer, "channel:email").state == "withdrawn"


def test_one_click_links_mailed_before_unsubscribe_tokens_had_their_own_salt_still_work(client, customer):
    give(customer, make_choice("channel:email"))
    old = TimestampSigner(salt=f"candor.customer-link.unsubscribe.{customer.link_key}.channel:email")
    url = reverse("preferences:unsubscribe", args=["channel:email", old.sign(str(customer.pk))])
    assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert latest(customer, "channel:email").state == "withdrawn"


def test_one_click_links_of_an_erased_customer_still_answer_and_record_nothing(client, customer):
    give(customer, make_choice("channel:email"))
    url = unsubscribe_url(customer, "channel:email")
    erase_customer(customer=customer, source="support_agent", actor="staff:1")
    events = ConsentEvent.objects.count()
    assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.get(url).status_code == 200
    assert ConsentEvent.objects.count() == events


# ---- unsubscribe from everything, doing less first ----


def test_every_leave_reason_is_a_reason_the_ledger_takes():
    assert set(leaving.LEAVE_REASONS) <= set(evidence.LEAVE_REASONS)


def test_leaving_offers_doing_less_first(signed_in):
    html = signed_in.get(reverse("preferences:leave")).content.decode()
    assert html.index("Only a monthly digest") < html.index('value="everything"')


def test_a_monthly_digest_instead_of_leaving(signed_in, customer):
    signed_in.post(reverse("preferences:leave"), {"action": "monthly"})
    assert latest(customer, "frequency").value["digest"] == "monthly"


def test_a_pause_instead_of_leaving(signed_in, customer):
    signed_in.post(reverse("preferences:leave"), {"action": "pause"})
    assert latest(customer, "frequency").value["paused_until"]


def test_unsubscribe_from_everything_records_the_reason(signed_in, customer):
    give(
        customer,
        make_choice("channel:email"),
        make_choice("channel:sms"),
        make_choice("topic:news", value={"channels": ["email"]}),
        make_choice("location", value={"level": "city"}),
    )
    signed_in.post(reverse("preferences:leave"), {"action": "everything", "reason": "too_many"})
    withdrawn = ConsentEvent.objects.filter(customer=customer, state="withdrawn")
    assert {e.purpose for e in withdrawn} == {"channel:email", "channel:sms", "topic:news", "location"}
    assert all(e.evidence["reason"] == "too_many" for e in withdrawn)
    assert all("comment" not in e.evidence for e in withdrawn)
    body = permissions(customer)
    assert not any(channel["allowed"] for channel in body["channels"].values())
    assert body["channels"]["email"]["required_topics"] == ["orders"]


# ---- Global Privacy Control ----


def test_gpc_switches_off_the_purposes_that_honour_it(signed_in, customer):
    give(
        customer,
        make_choice("location", value={"level": "city"}),
        make_choice("personalization", value={"depth": "activity"}),
        make_choice("channel:push"),
    )
    html = signed_in.get(PAGE, HTTP_SEC_GPC="1").content.decode()
    assert "Global Privacy Control" in html
    gpc = ConsentEvent.objects.filter(customer=customer, source="gpc")
    assert {(e.purpose, e.state) for e in gpc} == {
        ("location", "withdrawn"),
        ("personalization", "withdrawn"),
    }
    assert latest(customer, "channel:push").state == "given"


def test_an_explicit_opt_in_after_gpc_is_respected(signed_in, customer):
    give(customer, make_choice("location", value={"level": "city"}))
    signed_in.get(PAGE, HTTP_SEC_GPC="1")
    signed_in.post(PAGE, {"section": "location", "level": "region", **nv("location")}, HTTP_SEC_GPC="1")
    signed_in.get(PAGE, HTTP_SEC_GPC="1")
    assert latest(customer, "location").value == {"level": "region"}
    assert ConsentEvent.objects.filter(customer=customer, source="gpc").count() == 1


def test_without_the_signal_nothing_is_switched_off(signed_in, customer):
    give(customer, make_choice("location", value={"level": "city"}))
    signed_in.get(PAGE)
    assert not ConsentEvent.objects.filter(customer=customer, source="gpc").exists()


def test_undoing_an_email_switch_off_asks_for_confirmation_again(
    signed_in, customer, django_capture_on_commit_callbacks
):
    give(customer, make_choice("channel:email"))
    signed_in.post(PAGE, {"section": "channels", "channel": [], **nv(*CHANNELS)}, HTTP_HX_REQUEST="true")
    token = signed_in.session["preferences_undo"]["token"]
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("preferences:undo"), {"undo": token}, HTTP_HX_REQUEST="true")
    assert latest(customer, "channel:email").state == "requested"
    assert len(mail.outbox) == 1


def test_verification_texts_are_rate_limited(signed_in, customer, settings):
    for _ in range(settings.SMS_CODES_PER_HOUR + 2):
        signed_in.post(PAGE, {"section": "channels", "channel": ["sms"], **nv(*CHANNELS)})
    assert len(sms.outbox) == settings.SMS_CODES_PER_HOUR
