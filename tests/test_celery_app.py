import time

import pytest
from celery.signals import task_postrun
from django.db import connection

from apps.delivery.tasks import sweep
from config.celery_app import app

pytestmark = pytest.mark.django_db(transaction=True)


def finish_task(*, eager=False):
    """What a worker does after a task ran (``eager``: run in the caller's process, as in tests and embedded)."""
    sweep.push_request(is_eager=eager)
    try:
        task_postrun.send(
            sender=sweep, task=sweep, task_id="t", args=(), kwargs={}, retval=0, state="SUCCESS"
        )
    finally:
        sweep.pop_request()


def test_the_worker_does_not_have_celery_close_the_database_connection_after_each_task():
    assert app.conf.get("CELERY_DB_REUSE_MAX") >= 100


def test_a_worker_keeps_a_young_healthy_database_connection_between_tasks():
    connection.ensure_connection()
    opened = connection.connection

    finish_task()

    assert connection.connection is opened


def test_a_worker_closes_a_database_connection_older_than_conn_max_age():
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1

    finish_task()

    assert connection.connection is None


def test_a_task_run_eagerly_leaves_the_callers_connection_alone():
    connection.ensure_connection()
    opened = connection.connection
    connection.close_at = time.monotonic() - 1

    finish_task(eager=True)

    assert connection.connection is opened
