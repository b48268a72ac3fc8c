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
    """Start worker and beat with ``start(**env)``; they are killed before the database is flushed."""
    started = []

    def start(workers=1, concurrency=4, **env):
        processes = Celery(broker, **env)
        started.append(processes)
        for _ in range(workers):
            processes.start_worker(concurrency=concurrency)
        processes.start_beat()
        return processes

    yield start
    for processes in started:
        processes.stop()


@pytest.fixture
def verifying_receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()
