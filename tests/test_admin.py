import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.catalog.selectors import current_notice_version
from apps.consent.services import record_choices
from tests.factories import CustomerFactory, make_choice

pytestmark = pytest.mark.embedded


@pytest.fixture
def staff_client(client, db):
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.com", "x" * 16))
    return client


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_every_admin_list_opens_for_staff(staff_client, catalog, model):
    record_choices(
        customer=CustomerFactory(), choices=[make_choice("channel:sms")], source="web", actor="customer"
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
        customer=CustomerFactory(), choices=[make_choice("channel:sms")], source="web", actor="customer"
    ).events[0]
    response = staff_client.post(
        reverse("admin:consent_consentevent_change", args=[event.pk]), {"state": "refused"}
    )
    assert response.status_code == 403
