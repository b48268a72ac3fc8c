"""The page, a re-ask and the leave page's offers note which notice versions they showed (insights' denominators)."""

from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.customers.models import Exposure

from .conftest import TOPICS, nv
from .test_history_and_reask import publish_material

PAGE = "/preferences/"


def shown(customer, surface):
    return set(
        Exposure.objects.filter(customer=customer, surface=surface).values_list(
            "notice_version_id", flat=True
        )
    )


def test_rendering_the_page_records_every_current_notice_as_shown(signed_in, customer, catalog):
    signed_in.get(PAGE)
    assert current_notice_version("channel:email").pk in shown(customer, "page")
    assert current_notice_version("personalization").pk in shown(customer, "page")
    assert shown(customer, "reask") == set()


def test_a_purpose_asked_again_is_recorded_as_a_reask_not_as_shown_on_the_page(signed_in, customer):
    signed_in.post(PAGE, {"section": "topics", "topic:news": ["push"], **nv(*TOPICS)})
    _, version = publish_material("topic:news")
    signed_in.get(PAGE)
    assert shown(customer, "reask") == {version.pk}
    assert version.pk not in shown(customer, "page")


def test_the_leave_page_records_its_offers_under_the_frequency_notice(signed_in, customer):
    signed_in.get(reverse("preferences:leave"))
    assert shown(customer, "leave") == {current_notice_version("frequency").pk}


def test_leaving_for_good_shows_no_offers_and_records_none(signed_in, customer):
    signed_in.post(reverse("preferences:leave"), {"action": "everything", "reason": "privacy"})
    assert shown(customer, "leave") == set()
