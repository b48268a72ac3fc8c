import pytest
from django.core import mail
from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.consent.models import ConsentEvent, Snapshot
from tests.factories import CustomerFactory

from .conftest import CHANNELS, TOPICS, nv

PAGE = "/preferences/"


def events(customer):
    return list(ConsentEvent.objects.filter(customer=customer).order_by("sequence"))


def test_it_shows_every_section_with_the_current_wording(signed_in, customer):
    response = signed_in.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for anchor in ("channels", "topics", "frequency", "location", "personalization"):
        assert f'id="{anchor}"' in html
    version = current_notice_version("channel:email")
    assert f'name="nv:channel:email" value="{version.pk}"' in html
    assert "[en] What you get." in html
    assert "j***@example.com" in html
    assert "jane@example.com" not in html


def test_the_required_topic_is_shown_locked_with_its_reason(signed_in):
    html = signed_in.get(PAGE).content.decode()
    assert 'id="topic-orders-email" checked disabled' in html
    assert "Why you cannot switch this off" in html


def test_without_a_link_it_sends_you_to_sign_in(client, catalog):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == reverse("preferences:start")


def test_a_plain_form_post_records_the_change_with_the_version_shown_and_redirects(signed_in, customer):
    data = {"section": "channels", "channel": ["push"], **nv(*CHANNELS)}
    response = signed_in.post(PAGE, data, HTTP_USER_AGENT="Test/1.0")
    assert response.status_code == 302
    [event] = events(customer)
    assert (event.purpose, event.state, event.source, event.actor) == (
        "channel:push",
        "given",
        "web",
        "customer",
    )
    assert event.notice_version_id == current_notice_version("channel:push").pk
    assert event.evidence["via"] == "form"
    assert "ip_hash" in event.evidence
    assert "user_agent_hash" in event.evidence
    page = signed_in.get(response["Location"].split("#")[0]).content.decode()
    assert "Saved:" in page
    assert "Undo" in page


def test_an_htmx_post_answers_with_the_section_and_the_saved_status(signed_in, customer):
    data = {"section": "channels", "channel": ["push"], **nv(*CHANNELS)}
    response = signed_in.post(PAGE, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<section id="channels"')
    assert 'hx-swap-oob="innerHTML"' in html
    assert "Saved:" in html
    assert events(customer)[0].evidence["via"] == "htmx"


def test_an_unchanged_section_records_nothing(signed_in, customer):
    data = {"section": "channels", "channel": ["push"], **nv(*CHANNELS)}
    signed_in.post(PAGE, data)
    signed_in.post(PAGE, data)
    assert len(events(customer)) == 1


def test_undo_puts_the_previous_choice_back_through_the_write_path(signed_in, customer):
    signed_in.post(
        PAGE, {"section": "channels", "channel": ["push"], **nv(*CHANNELS)}, HTTP_HX_REQUEST="true"
    )
    token = signed_in.session["preferences_undo"]["token"]
    response = signed_in.post(reverse("preferences:undo"), {"undo": token}, HTTP_HX_REQUEST="true")
    assert "Undone." in response.content.decode()
    _first, second = events(customer)
    assert (second.purpose, second.state) == ("channel:push", "refused")
    assert Snapshot.objects.get(customer=customer).document.body["channels"]["push"]["allowed"] is False


def test_email_stays_requested_and_a_confirmation_is_sent(
    signed_in, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(PAGE, {"section": "channels", "channel": ["email"], **nv(*CHANNELS)})
    [event] = events(customer)
    assert event.state == "requested"
    [message] = mail.outbox
    assert message.to == ["jane@example.com"]
    assert "/confirm-email/" in message.body
    assert Snapshot.objects.get(customer=customer).document.body["channels"]["email"]["allowed"] is False


def test_topics_record_the_channels_and_frequency_chosen(signed_in, customer):
    data = {
        "section": "topics",
        "topic:news": ["email", "push"],
        "frequency:topic:news": "daily",
        "topic:offers": [],
        **nv(*TOPICS),
    }
    signed_in.post(PAGE, data)
    [event] = events(customer)
    assert event.purpose == "topic:news"
    assert event.value == {"channels": ["email", "push"], "frequency": "daily"}


def test_a_topic_cannot_be_given_a_channel_it_may_not_use(signed_in, customer):
    data = {"section": "topics", "topic:news": ["sms", "email"], **nv(*TOPICS)}
    signed_in.post(PAGE, data)
    assert events(customer)[0].value == {"channels": ["email"]}


def test_the_required_topic_cannot_be_switched_off_from_the_page(signed_in, customer):
    data = {"section": "topics", "topic:orders": [], **nv(*TOPICS, "topic:orders")}
    signed_in.post(PAGE, data)
    assert events(customer) == []


def test_frequency_cap_pause_and_quiet_hours(signed_in, customer):
    data = {
        "section": "frequency",
        "digest": "daily",
        "weekly_cap": "5",
        "pause": "30",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        "quiet_timezone": "Europe/Berlin",
        **nv("frequency"),
    }
    signed_in.post(PAGE, data)
    [event] = events(customer)
    assert event.value["digest"] == "daily"
    assert event.value["weekly_cap"] == 5
    assert event.value["quiet_hours"] == {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
    assert event.value["paused_until"]


def test_a_bad_value_is_not_saved_and_says_why(signed_in, customer):
    data = {"section": "frequency", "digest": "daily", "weekly_cap": "500", **nv("frequency")}
    response = signed_in.post(PAGE, data, HTTP_HX_REQUEST="true")
    assert "Not saved" in response.content.decode()
    assert events(customer) == []


def test_location_can_be_time_boxed_and_switched_off(signed_in, customer):
    signed_in.post(PAGE, {"section": "location", "level": "city", "location_days": "7", **nv("location")})
    signed_in.post(PAGE, {"section": "location", "level": "off", **nv("location")})
    given, withdrawn = events(customer)
    assert given.value == {"level": "city"}
    assert given.expires_at is not None
    assert withdrawn.state == "withdrawn"


def test_personalization_depth(signed_in, customer):
    signed_in.post(PAGE, {"section": "personalization", "depth": "interests", **nv("personalization")})
    [event] = events(customer)
    assert event.value == {"depth": "interests"}


def test_a_version_that_was_not_on_screen_is_refused(signed_in, customer):
    data = {"section": "channels", "channel": ["push"], "nv:channel:push": "999999"}
    response = signed_in.post(PAGE, data)
    assert response.status_code == 400
    assert events(customer) == []


def test_one_customers_session_never_touches_anothers(signed_in, customer):
    other = CustomerFactory()
    signed_in.post(PAGE, {"section": "channels", "channel": ["push"], "customer": other.pk, **nv(*CHANNELS)})
    assert events(other) == []
    assert len(events(customer)) == 1


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_the_page_refuses_other_methods(signed_in, method):
    assert getattr(signed_in, method)(PAGE).status_code == 405


def test_the_page_sends_csrf_to_htmx_and_keeps_htmx_from_evaluating_code(signed_in):
    response = signed_in.get(PAGE)
    html = response.content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert '"allowEval":false' in html
    policy = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_changing_the_location_level_keeps_a_time_box_unless_a_new_one_is_chosen(signed_in, customer):
    signed_in.post(PAGE, {"section": "location", "level": "city", "location_days": "7", **nv("location")})
    signed_in.post(PAGE, {"section": "location", "level": "city", "location_days": "", **nv("location")})
    signed_in.post(PAGE, {"section": "location", "level": "region", "location_days": "", **nv("location")})
    first, second = events(customer)
    assert second.value == {"level": "region"}
    assert second.expires_at == first.expires_at


def test_the_evidence_hash_is_of_the_client_address_a_trusted_proxy_saw(signed_in, customer, settings):
    from apps.consent.services import evidence_hash

    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    data = {"section": "channels", "channel": ["push"], **nv(*CHANNELS)}
    signed_in.post(PAGE, data, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    [event] = events(customer)
    assert event.evidence["ip_hash"] == evidence_hash("203.0.113.7")


def test_the_brand_on_the_page_comes_from_settings(signed_in, settings):
    settings.BRAND = {
        **settings.BRAND,
        "name": "Bergwerk Outdoor",
        "accent_colour": "#7a2e0e",
        "support_email": "hilfe@bergwerk.example",
        "imprint_url": "https://bergwerk.example/impressum",
    }
    html = signed_in.get(PAGE).content.decode()
    assert "<title>Your choices · Bergwerk Outdoor</title>" in html
    assert 'href="mailto:hilfe@bergwerk.example"' in html
    assert 'href="https://bergwerk.example/impressum"' in html
    assert "Candor Outfitters" not in html
    css = signed_in.get(reverse("preferences:brand_css"))
    assert css["Content-Type"].startswith("text/css")
    assert "--accent: #7a2e0e;" in css.content.decode()
