"""Every admin door that can write, walked: none changes a customer's identity or consent, or widens what the
catalog lets Candor do with it, without the ledger event the write path would have written.

Each registered ModelAdmin gets: every action on every row, the delete page of each row, its change form posted
back as shown, and the attacks listed in ``ATTACKS``. To extend, register the admin (the coverage test names it
until it has an entry in ``ATTACKS``, possibly empty) and add the posts an attacker would try.
"""

import pytest
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.api.models import ApiClient
from apps.catalog.models import BenefitKind, Channel, Notice, NoticeVersion, Option, Question, Topic
from apps.consent.models import ConsentEvent, InboundReport, OutboxEntry, PermissionDocument
from apps.customers.models import Customer
from apps.delivery.models import Delivery, Destination
from apps.inbound.models import InboundSource
from tests.doors import seed_world, seen, unrecorded_changes


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def shown_form(client, change_url) -> dict:
    """The change form's data as the page shows it (inlines included), ready to post back."""
    context = client.get(change_url).context
    if not context or "adminform" not in context:
        return {}  # not shown to this user: the post must be refused as well
    forms = [context["adminform"].form]
    data = {}
    for inline in context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): management[name].value() for name in management.fields})
        forms += inline.formset.forms
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if field.disabled or value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    return data


def post_form(client, model, pk, **changes):
    change_url = url(model, "change", pk)
    data = {**shown_form(client, change_url), **changes}
    return client.post(change_url, {key: value for key, value in data.items() if value is not None})


def all_channels() -> list[int]:
    return list(Channel.objects.values_list("pk", flat=True))


# model -> the posts an attacker would make, each a function of the client (beyond the generic walk).
ATTACKS = {
    Customer: [
        lambda c: post_form(c, Customer, Customer.objects.get(external_id="ada").pk, email="eve@example.com"),
        lambda c: post_form(c, Customer, Customer.objects.get(external_id="ada").pk, phone="+4915199999999"),
        lambda c: c.post(
            url(Customer, "add"), {"external_id": "new", "email": "n@example.com", "locale": "en"}
        ),
    ],
    Topic: [
        lambda c: post_form(c, Topic, Topic.objects.get(slug="offers").pk, required="on"),
        lambda c: post_form(c, Topic, Topic.objects.get(slug="orders").pk, channels=all_channels()),
        lambda c: c.post(
            url(Topic, "add"),
            {
                "slug": "sneaky",
                "label": '{"en": "x"}',
                "kind": "marketing",
                "required": "on",
                "position": 0,
                "required_reason": "{}",
                "channels": all_channels(),
            },
        ),
    ],
    Option: [
        lambda c: (
            post_form(c, Option, Option.objects.get(set="personalization", code="none").pk, is_default=None),
            post_form(
                c, Option, Option.objects.get(set="personalization", code="activity").pk, is_default="on"
            ),
        ),
        lambda c: post_form(c, Option, Option.objects.get(set="personalization", code="none").pk, rank=9),
    ],
    Channel: [
        lambda c: post_form(c, Channel, Channel.objects.get(code="email").pk, double_opt_in=None),
    ],
    Notice: [
        lambda c: post_form(c, Notice, Notice.objects.get(purpose="location").pk, honours_gpc=None),
    ],
    ConsentEvent: [
        lambda c: c.post(url(ConsentEvent, "change", ConsentEvent.objects.first().pk), {"state": "given"}),
        lambda c: c.post(url(ConsentEvent, "add"), {"purpose": "channel:sms", "state": "given"}),
    ],
    PermissionDocument: [],
    InboundReport: [],
    InboundSource: [],
    BenefitKind: [],
    Question: [],
    OutboxEntry: [],
    Destination: [],
    Delivery: [],
    ApiClient: [],
    Authenticator: [],
    get_user_model(): [],
    Group: [],
    **{model: [] for model in admin.site._registry if model._meta.app_label == "django_celery_beat"},
    NoticeVersion: [
        lambda c: c.post(
            url(NoticeVersion, "changelist"),
            {
                "action": "publish",
                ACTION_CHECKBOX_NAME: list(NoticeVersion.objects.values_list("pk", flat=True)),
            },
        ),
    ],
}


@pytest.fixture
def world(catalog, eager_celery):
    seed_world()


def walk(client, user, model, model_admin):
    """The listed attacks, each row's change form posted back as shown, every action on every row (deleting
    last), each row's delete page."""
    for number, attack in enumerate(ATTACKS[model]):
        yield f"attack {number}", lambda attack=attack: attack(client)
    for pk in model._default_manager.values_list("pk", flat=True)[:3]:
        yield f"change {pk} as shown", lambda pk=pk: post_form(client, model, pk)
    request = RequestFactory().get("/")
    request.user = user
    for action in sorted(model_admin.get_actions(request), key=lambda name: name == "delete_selected"):
        yield f"action {action}", lambda action=action: run_action(client, model, action)
    for pk in model._default_manager.values_list("pk", flat=True)[:3]:
        yield f"delete {pk}", lambda pk=pk: client.post(url(model, "delete", pk), {"post": "yes"})


def run_action(client, model, action):
    selected = list(model._default_manager.values_list("pk", flat=True))
    return client.post(
        url(model, "changelist"), {"action": action, ACTION_CHECKBOX_NAME: selected, "post": "yes"}
    )


def test_the_walk_covers_every_admin():
    # A model listed in ATTACKS (even with no attacks of its own) says its doors were thought about.
    assert {model._meta.label for model in admin.site._registry} == {model._meta.label for model in ATTACKS}


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_no_admin_door_changes_consent_without_the_ledger(staff_client, world, model):
    user = get_user_model().objects.get(username="admin")
    at = timezone.now()
    for door, post in walk(staff_client, user, model, admin.site._registry[model]):
        before = seen(at)
        post()
        assert unrecorded_changes(before, seen(at)) == [], door
