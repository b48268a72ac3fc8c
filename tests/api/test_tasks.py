from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from apps.api import tasks
from apps.api.models import IdempotencyRecord
from config.celery_app import app as celery_app
from tests.factories import IdempotencyRecordFactory

pytestmark = pytest.mark.embedded


def test_the_periodic_task_forgets_expired_idempotency_keys_and_keeps_fresh_ones(db, settings):
    settings.API_IDEMPOTENCY_KEY_HOURS = 24
    now = timezone.now()
    with time_machine.travel(now - timedelta(hours=25)):
        IdempotencyRecordFactory(key="expired")
    with time_machine.travel(now - timedelta(hours=23)):
        IdempotencyRecordFactory(key="fresh")
    IdempotencyRecordFactory(key="new")

    with time_machine.travel(now):
        assert tasks.prune_idempotency_keys.apply().get() == 1

    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh", "new"]


def test_beat_runs_the_pruning_every_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["prune-idempotency-keys"]
    assert entry["schedule"] == 3600.0
    celery_app.loader.import_default_modules()
    assert entry["task"] in celery_app.tasks
