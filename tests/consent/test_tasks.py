import pytest

from apps.catalog.selectors import current_notice_version
from apps.consent import tasks
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.services import mark_notice_version_published
from tests.factories import NoticeVersionFactory

pytestmark = pytest.mark.embedded


def locations(customers):
    return [Snapshot.objects.get(customer=c).choices["location"]["state"] for c in customers]


def test_the_task_invalidates_in_batches_until_none_are_left(
    customers_sharing_location, settings, eager_celery
):
    settings.NOTICE_INVALIDATION_BATCH_SIZE = 2
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)
    mark_notice_version_published(version=new)

    assert tasks.invalidate_superseded_consents.delay(new.pk).get() == 2  # its own batch; it queued the rest

    assert locations(customers_sharing_location) == ["invalidated"] * 3


def test_running_the_task_again_changes_nothing(customers_sharing_location, eager_celery):
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)
    mark_notice_version_published(version=new)
    assert tasks.invalidate_superseded_consents.delay(new.pk).get() == 3
    events = ConsentEvent.objects.count()

    assert tasks.invalidate_superseded_consents.delay(new.pk).get() == 0

    assert ConsentEvent.objects.count() == events


def test_the_task_leaves_consents_under_a_non_material_version_alone(
    customers_sharing_location, eager_celery
):
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=False)
    mark_notice_version_published(version=new)

    assert tasks.invalidate_superseded_consents.delay(new.pk).get() == 0

    assert locations(customers_sharing_location) == ["given"] * 3
