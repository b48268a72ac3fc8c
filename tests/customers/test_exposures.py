"""Exposures: which notice version was shown to whom, kept apart from the ledger, erased and purged in time."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.consent.services import erase_customer, publish_notice_version
from apps.customers.models import Exposure
from apps.customers.services import purge_exposures, record_exposures
from tests.factories import CustomerFactory, NoticeVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    version = NoticeVersionFactory(notice__purpose="channel:email")
    publish_notice_version(version=version)
    return version


def test_each_version_shown_is_recorded_once_with_its_surface_and_time(version):
    customer, at = CustomerFactory(), timezone.now()
    record_exposures(
        customer_id=customer.pk, notice_version_ids=[version.pk, version.pk], surface="page", at=at
    )
    (exposure,) = Exposure.objects.all()
    assert (exposure.customer_id, exposure.notice_version_id, exposure.surface, exposure.shown_at) == (
        customer.pk,
        version.pk,
        "page",
        at,
    )


def test_an_unknown_surface_is_refused_and_nothing_is_written(version):
    customer = CustomerFactory()
    with pytest.raises(ValueError, match="surface 'popup'"):
        record_exposures(
            customer_id=customer.pk, notice_version_ids=[version.pk], surface="popup", at=timezone.now()
        )
    assert not Exposure.objects.exists()


def test_erasing_a_customer_deletes_what_they_were_shown(version):
    customer, other = CustomerFactory(), CustomerFactory()
    for shown_to in (customer, other):
        record_exposures(
            customer_id=shown_to.pk, notice_version_ids=[version.pk], surface="page", at=timezone.now()
        )
    erase_customer(customer=customer, source="support", actor="staff:1")
    assert list(Exposure.objects.values_list("customer_id", flat=True)) == [other.pk]


@override_settings(EXPOSURE_RETENTION_DAYS=30)
def test_exposures_older_than_the_retention_are_purged_and_newer_ones_kept(version):
    customer, now = CustomerFactory(), timezone.now()
    for age in (31, 29):
        record_exposures(
            customer_id=customer.pk,
            notice_version_ids=[version.pk],
            surface="reask",
            at=now - timedelta(days=age),
        )
    assert purge_exposures(now=now) == 1
    assert [exposure.shown_at for exposure in Exposure.objects.all()] == [now - timedelta(days=29)]
