import pytest
from django.contrib import admin
from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.consent.models import Snapshot
from apps.consent.rules import Provenance
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, NoticeVersionFactory, make_choice

pytestmark = pytest.mark.embedded


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_every_admin_list_opens_for_staff(staff_client, catalog, model):
    record_choices(
        customer=CustomerFactory(),
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    )
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 200


def test_a_published_notice_version_shows_read_only_in_the_admin(staff_client, catalog):
    version = current_notice_version("location")
    response = staff_client.get(reverse("admin:catalog_noticeversion_change", args=[version.pk]))
    assert response.status_code == 200
    assert b'name="material"' not in response.content


def test_the_ledger_cannot_be_edited_in_the_admin(staff_client, catalog):
    event = record_choices(
        customer=CustomerFactory(),
        choices=[make_choice("channel:sms")],
        provenance=Provenance(source="web", actor="customer"),
    ).events[0]
    response = staff_client.post(
        reverse("admin:consent_consentevent_change", args=[event.pk]), {"state": "refused"}
    )
    assert response.status_code == 403


def publish_in_admin(staff_client, version):
    return staff_client.post(
        reverse("admin:catalog_noticeversion_changelist"),
        {"action": "publish", "_selected_action": [version.pk]},
        follow=True,
    )


def test_publishing_a_material_version_in_the_admin_leaves_the_invalidation_to_a_task(
    staff_client, customers_sharing_location, eager_celery, django_capture_on_commit_callbacks
):
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)

    with django_capture_on_commit_callbacks() as queued:
        publish_in_admin(staff_client, new)

    new.refresh_from_db()
    assert new.is_published
    assert [s.choices["location"]["state"] for s in Snapshot.objects.all()] == ["given"] * 3

    for callback in queued:
        callback()  # the commit: the task is queued (and, with eager_celery, runs)

    assert [s.choices["location"]["state"] for s in Snapshot.objects.all()] == ["invalidated"] * 3


def test_publishing_a_non_material_version_in_the_admin_queues_nothing(
    staff_client, catalog, django_capture_on_commit_callbacks
):
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=False)

    with django_capture_on_commit_callbacks() as queued:
        response = publish_in_admin(staff_client, new)

    new.refresh_from_db()
    assert new.is_published
    assert queued == []
    assert "not a material change" in str(next(iter(response.context["messages"])))


def test_the_admin_refuses_to_publish_a_version_twice(
    staff_client, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = publish_in_admin(staff_client, current_notice_version("location"))

    assert queued == []
    assert "already published" in str(next(iter(response.context["messages"])))
