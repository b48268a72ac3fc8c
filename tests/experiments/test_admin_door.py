"""The Django admin is no side door for an experiment's variants: only the experiment flow (lint, a privacy
officer's approval, start) publishes one, and its wording is changed nowhere else. Ordinary notice versions
are published and edited there as before."""

from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.experiments.services import approve_experiment
from tests.factories import NoticeVersionFactory


def publish_in_admin(staff_client, version):
    return staff_client.post(
        reverse("admin:catalog_noticeversion_changelist"),
        {"action": "publish", "_selected_action": [version.pk]},
        follow=True,
    )


def test_the_admin_refuses_to_publish_an_unapproved_variant(staff_client, experiment):
    variant = experiment.variants.get(label="B").notice_version

    response = publish_in_admin(staff_client, variant)

    variant.refresh_from_db()
    assert not variant.is_published
    [message] = [str(m) for m in response.context["messages"]]
    assert "is a variant of an experiment: only starting the experiment publishes it" in message


def test_the_admin_refuses_to_publish_an_approved_variant_too(staff_client, experiment, officer):
    approve_experiment(experiment=experiment, staff=officer)
    variant = experiment.variants.get(label="A").notice_version

    publish_in_admin(staff_client, variant)

    variant.refresh_from_db()
    assert not variant.is_published


def test_a_variant_cannot_be_edited_in_the_admin(staff_client, experiment):
    variant = experiment.variants.get(label="B").notice_version
    url = reverse("admin:catalog_noticeversion_change", args=[variant.pk])

    page = staff_client.get(url)
    refused = staff_client.post(url, {"number": variant.number, "material": "on"})

    assert page.status_code == 200
    assert b'name="material"' not in page.content
    assert b'name="texts-0-what_you_get"' not in page.content
    assert refused.status_code == 403
    variant.refresh_from_db()
    assert not variant.material


def test_an_ordinary_draft_version_is_still_edited_and_published_in_the_admin(staff_client, catalog):
    draft = NoticeVersionFactory(notice=current_notice_version("location").notice)

    page = staff_client.get(reverse("admin:catalog_noticeversion_change", args=[draft.pk]))
    publish_in_admin(staff_client, draft)

    assert b'name="material"' in page.content
    assert b'name="texts-0-what_you_get"' in page.content
    draft.refresh_from_db()
    assert draft.is_published
