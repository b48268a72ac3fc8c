"""The page as a customer uses it: refused saves keep their input, waiting states, the summary, leaving."""

from django.core import mail
from django.urls import reverse

from apps.consent.models import ConsentEvent
from apps.preferences import sms

from .conftest import CHANNELS, nv

PAGE = "/preferences/"


def test_a_refused_save_without_javascript_keeps_every_typed_value(signed_in, customer):
    data = {
        "section": "frequency",
        "digest": "daily",
        "weekly_cap": "4",
        "pause": "until",
        "paused_until": "2001-01-01",
        "quiet_start": "22:15",
        "quiet_end": "",
        **nv("frequency"),
    }
    response = signed_in.post(PAGE, data)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="digest-daily" checked' in html
    assert 'name="weekly_cap" min="1" max="50" inputmode="numeric" value="4"' in html
    assert '<option value="until" selected>' in html
    assert 'value="2001-01-01"' in html
    assert 'value="22:15"' in html
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_an_htmx_refused_save_answers_with_the_section_as_typed_and_open(signed_in, customer):
    data = {"section": "frequency", "digest": "weekly", "quiet_start": "23:00", **nv("frequency")}
    html = signed_in.post(PAGE, data, HTTP_HX_REQUEST="true").content.decode()
    assert html.startswith('<section id="frequency"')
    assert "<details open>" in html
    assert "Quiet hours need both a start and an end." in html
    assert 'value="23:00"' in html


def test_an_address_awaiting_confirmation_is_not_a_ticked_box_and_cancel_withdraws_it(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["email"], **nv(*CHANNELS)})
    html = signed_in.get(PAGE).content.decode()
    assert 'id="channel-email"' not in html
    assert "waiting for you to confirm" in html
    signed_in.post(PAGE, {"section": "channels", "channel": ["email"], "drop": "email", **nv(*CHANNELS)})
    assert ConsentEvent.objects.filter(customer=customer).latest("sequence").state == "withdrawn"


def test_resending_the_link_records_nothing_and_sends_another_email(
    signed_in, customer, django_capture_on_commit_callbacks
):
    data = {"section": "channels", "channel": ["email"], **nv(*CHANNELS)}
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(PAGE, data)
        signed_in.post(PAGE, {**data, "action": "resend_email"})
    assert len(mail.outbox) == 2
    assert ConsentEvent.objects.filter(customer=customer).count() == 1


def test_a_number_awaiting_its_code_can_have_a_new_code_or_be_cancelled(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["sms"], **nv(*CHANNELS)})
    assert "waiting for the code" in signed_in.get(PAGE).content.decode()
    signed_in.post(PAGE, {"action": "resend_sms"})
    assert [text["to"] for text in sms.outbox] == [customer.phone, customer.phone]
    signed_in.post(PAGE, {"action": "cancel_sms"})
    html = signed_in.get(PAGE).content.decode()
    assert "waiting for the code" not in html
    assert 'id="channel-sms"' in html
    assert not ConsentEvent.objects.filter(customer=customer).exists()


def test_the_summary_says_each_channel_and_setting_and_links_to_its_section(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["push"], **nv(*CHANNELS)})
    signed_in.post(PAGE, {"section": "topics", "topic:news": ["push"], **nv("topic:news", "topic:offers")})
    html = signed_in.get(PAGE).content.decode()
    summary = html[html.index('<nav id="summary"') : html.index("</nav>", html.index('<nav id="summary"'))]
    assert 'href="#channels"' in summary
    assert 'href="#location"' in summary
    assert ": off</a>" in summary
    assert ">Push: weekly, 1 topic</a>" in summary


def test_an_htmx_save_also_updates_the_summary(signed_in):
    data = {"section": "channels", "channel": ["push"], **nv(*CHANNELS)}
    html = signed_in.post(PAGE, data, HTTP_HX_REQUEST="true").content.decode()
    assert '<nav id="summary" class="summary" aria-labelledby="summary-title" hx-swap-oob="true">' in html


def test_the_leave_page_says_what_stays_on_and_what_stops(signed_in, customer):
    signed_in.post(PAGE, {"section": "channels", "channel": ["push"], **nv(*CHANNELS)})
    html = signed_in.get(reverse("preferences:leave")).content.decode()
    assert html.index("What you will no longer get") < html.index('value="everything"')
    assert html.index("What stays on") < html.index('value="everything"')
