import pytest

from tests.delivery.receiver import Receiver

from .harness import Celery, PrivateRedis


@pytest.fixture
def no_fast_path(settings):
    """The test process does not queue the fan-out itself: the worker's sweeper must find every outbox row,
    exactly as after a crash between commit and dispatch."""
    settings.CONSENT_ON_OUTBOX_COMMIT = ""


@pytest.fixture
def broker():
    redis = PrivateRedis().start()
    yield redis
    redis.stop()


@pytest.fixture
def celery_processes(transactional_db, broker, no_fast_path):
    """Start worker and beat (under supervisord) with ``start(concurrency=4, **env)``; they are stopped before
    the database is flushed."""
    started = []

    def start(concurrency=4, **env):
        processes = Celery(broker, concurrency=concurrency, **env)
        started.append(processes)
        return processes.start()

    yield start
    for processes in started:
        processes.stop()


@pytest.fixture
def verifying_receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()
