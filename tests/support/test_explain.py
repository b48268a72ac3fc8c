"""'May we send?' in the console: the API's explanation of a decision, for staff, logged like every customer page."""

from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.consent.rules import Provenance
from apps.consent.services import publish_notice_version, record_choices
from apps.support.models import StaffAccess
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice


def test_an_agent_sees_why_a_message_would_be_refused_with_the_event_and_its_wording(agent_client, catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms"), make_choice("topic:offers", value={"channels": ["sms"]})],
        provenance=Provenance(source="web", actor="customer"),
    )
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms", "withdrawn")],
        provenance=Provenance(source="web", actor="customer"),
    )

    response = agent_client.get(
        reverse("support:explain", args=[customer.pk]), {"channel": "sms", "topic": "offers"}
    )

    assert response.status_code == 200
    explanation = response.context["explanation"]
    assert (explanation.decision.allow, explanation.decision.reason) == (False, "withdrawn")
    page = response.content.decode()
    assert "#3 channel:sms: withdrawn" in page
    assert "[en] May we? (channel:sms v1)" in page
    assert explanation.chain[-1].hash in page
    assert StaffAccess.objects.filter(customer=customer, what="explain").exists()


def test_the_wording_shown_includes_its_example(agent_client, catalog):
    sms = current_notice_version("channel:sms").notice
    publish_notice_version(version=NoticeVersionFactory(notice=sms, texts__example="“Your size is back.”"))
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:sms"), make_choice("topic:offers", value={"channels": ["sms"]})],
        provenance=Provenance(source="web", actor="customer"),
    )
    page = agent_client.get(
        reverse("support:explain", args=[customer.pk]), {"channel": "sms", "topic": "offers"}
    ).content.decode()
    assert "<p><strong>For example:</strong> [en] “Your size is back.”</p>" in page


def test_an_unknown_channel_is_a_clear_error(agent_client, catalog):
    customer = CustomerFactory()
    response = agent_client.get(
        reverse("support:explain", args=[customer.pk]), {"channel": "fax", "topic": "news"}
    )
    assert response.status_code == 400
    assert response.context["explanation"] is None
