"""A catalog change that would widen what customers allow, without their consent, is refused at every door."""

import pytest
from django.urls import reverse

from apps.catalog.models import Channel, Option, Topic, WideningChangeError
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, OptionFactory, TopicFactory, make_choice


def topic_form(topic, **changes):
    data = {
        "slug": topic.slug,
        "label": '{"en": "x"}',
        "channels": [channel.pk for channel in topic.channels.all()],
        "required_reason": "{}",
        "position": topic.position,
        **({"required": "on"} if topic.required else {}),
        **changes,
    }
    return {key: value for key, value in data.items() if value is not None}


def test_a_marketing_topic_cannot_be_made_required(catalog):
    offers = Topic.objects.get(slug="offers")
    offers.required = True

    with pytest.raises(WideningChangeError):
        offers.save()


def test_the_admin_refuses_to_make_a_refused_marketing_topic_required(staff_client, catalog):
    customer = CustomerFactory()
    record_choices(
        customer=customer,
        choices=[make_choice("channel:email"), make_choice("topic:offers", state="refused")],
        provenance=Provenance(source="web", actor="customer"),
    )
    offers = Topic.objects.get(slug="offers")

    response = staff_client.post(
        reverse("admin:catalog_topic_change", args=[offers.pk]), topic_form(offers, required="on")
    )

    assert response.status_code == 200
    assert "Only a transactional topic can be required." in response.content.decode()
    offers.refresh_from_db()
    assert not offers.required


def test_an_optional_transactional_topic_cannot_become_required_later(catalog):
    receipts = TopicFactory(slug="receipts", kind="transactional")
    receipts.required = True

    with pytest.raises(WideningChangeError, match="cannot become required"):
        receipts.save()


def test_a_topic_kind_is_fixed_at_creation(catalog):
    news = Topic.objects.get(slug="news")
    news.kind = Topic.Kind.TRANSACTIONAL

    with pytest.raises(WideningChangeError, match="fixed at creation"):
        news.save()


def test_a_new_transactional_topic_may_be_required(catalog):
    TopicFactory(slug="returns", required=True)

    assert Topic.objects.get(slug="returns").required


def test_a_required_topic_cannot_gain_a_channel(staff_client, catalog):
    orders = Topic.objects.get(slug="orders")
    push = Channel.objects.get(code="push")
    channels = [*orders.channels.values_list("pk", flat=True), push.pk]

    response = staff_client.post(
        reverse("admin:catalog_topic_change", args=[orders.pk]), topic_form(orders, channels=channels)
    )

    assert response.status_code == 200
    assert set(orders.channels.values_list("code", flat=True)) == {"email", "sms"}


def test_a_required_topic_may_become_optional(staff_client, catalog):
    orders = Topic.objects.get(slug="orders")

    response = staff_client.post(
        reverse("admin:catalog_topic_change", args=[orders.pk]), topic_form(orders, required=None)
    )

    assert response.status_code == 302
    orders.refresh_from_db()
    assert not orders.required


def test_the_default_personalization_cannot_rise(catalog):
    Option.objects.filter(set="personalization").update(is_default=False)
    activity = Option.objects.get(set="personalization", code="activity")
    activity.is_default = True

    with pytest.raises(WideningChangeError, match="must be the least"):
        activity.save()


def test_a_new_least_personalization_may_be_the_default(catalog):
    Option.objects.filter(set="personalization").update(is_default=False)

    OptionFactory(set="personalization", code="nothing", rank=0, is_default=True)
