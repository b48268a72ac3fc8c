import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.selectors import current_notice_version
from apps.consent import tasks
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.services import mark_notice_version_published
from tests.factories import NoticeVersionFactory

pytestmark = pytest.mark.embedded

INVALIDATE = "apps.consent.tasks.invalidate_superseded_consents"


@pytest.fixture(autouse=True)
def _no_chain_at_work():
    """Which invalidation chains are at work is kept in the cache (this run's own Redis database)."""
    cache.clear()


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


def published_material_location_notice():
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=True)
    mark_notice_version_published(version=new)  # as the admin does; its task never reached a worker
    return new


def test_the_sweeper_finishes_an_invalidation_whose_task_was_never_queued(
    customers_sharing_location, eager_celery
):
    published_material_location_notice()

    tasks.sweep_notice_invalidations.delay().get()

    assert locations(customers_sharing_location) == ["invalidated"] * 3


def test_the_sweeper_queues_a_chain_again_once_it_went_quiet(
    customers_sharing_location, settings, queued_tasks
):
    settings.NOTICE_INVALIDATION_BATCH_SIZE = 1
    new = published_material_location_notice()
    tasks.invalidate_superseded_consents(new.pk)  # one batch; the next one it queues is lost with its worker
    assert tasks.sweep_notice_invalidations() == 0  # the chain's mark stands: the sweeper leaves it be
    # No batch of the chain runs for a whole sweep interval: its mark lapses (the key, moved on in time).
    cache.delete(f"consent:invalidating:{new.pk}")

    tasks.sweep_notice_invalidations()

    assert queued_tasks == [(INVALIDATE, [new.pk])] * 2


def test_the_sweeper_queues_nothing_once_every_superseded_consent_is_invalidated(
    customers_sharing_location, eager_celery
):
    new = published_material_location_notice()
    tasks.invalidate_superseded_consents.delay(new.pk).get()

    assert tasks.sweep_notice_invalidations.delay().get() == 0


def test_the_sweeper_does_not_scan_the_snapshots_again_for_a_finished_version(
    customers_sharing_location, eager_celery
):
    new = published_material_location_notice()
    tasks.invalidate_superseded_consents.delay(new.pk).get()

    with CaptureQueriesContext(connection) as queries:
        tasks.sweep_notice_invalidations()

    assert not [query for query in queries if "consent_snapshot" in query["sql"]]


def test_the_sweeper_leaves_consents_under_a_non_material_version_alone(
    customers_sharing_location, eager_celery
):
    new = NoticeVersionFactory(notice=current_notice_version("location").notice, material=False)
    mark_notice_version_published(version=new)

    assert tasks.sweep_notice_invalidations.delay().get() == 0


def test_the_sweeper_does_not_queue_a_version_again_while_its_chain_is_at_work(
    customers_sharing_location, queued_tasks
):
    new = published_material_location_notice()

    tasks.sweep_notice_invalidations()
    tasks.sweep_notice_invalidations()

    assert queued_tasks == [(INVALIDATE, [new.pk])]


def test_the_sweeper_leaves_a_version_the_admin_has_just_queued_to_its_chain(
    customers_sharing_location, queued_tasks
):
    new = published_material_location_notice()
    assert tasks.queue_invalidation(new.pk)

    tasks.sweep_notice_invalidations()

    assert queued_tasks == [(INVALIDATE, [new.pk])]


def test_the_sweep_runs_from_celery_beat(settings):
    [entry] = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "apps.consent.tasks.sweep_notice_invalidations"
    ]
    assert entry["schedule"] == settings.NOTICE_INVALIDATION_SWEEP_SECONDS
