"""Real processes for the reliability tests: a private Redis (so restarting it disturbs nobody), Celery worker
and beat processes on the test database, and a helper to wait for a condition."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent
CELERY = str(Path(sys.executable).parent / "celery")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}")


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence: a restart loses every queued task."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603 (fixed arguments)
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_until(lambda: _pings(client), timeout=10, message="redis to start")
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self):
        self.stop()
        self.start()


def _kill(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


class Celery:
    """Worker and beat processes of ``config`` on the test database and a private broker, with queue names of
    their own. Each process leads its own session so a SIGKILL takes its pool children with it.

    Like systemd with ``Restart=always`` in production, a supervisor thread starts again any process that
    exits by itself: a Celery worker may shut down on losing its Redis broker ("Unrecoverable error",
    a long-standing kombu behaviour), and recovering from that is part of what is tested.
    """

    def __init__(self, broker: PrivateRedis, **env):
        suffix = uuid.uuid4().hex[:8]
        self.queue = f"candor_test_delivery_{suffix}"
        self.default_queue = f"candor_test_delivery_default_{suffix}"
        self.broker = broker
        self.workdir = tempfile.mkdtemp(prefix="candor_test_delivery_")
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": broker.url,
            "DELIVERY_QUEUE": self.queue,
            "CELERY_DEFAULT_QUEUE": self.default_queue,
            "DELIVERY_SWEEP_SECONDS": "0.5",
            "DELIVERY_SWEEP_GRACE_SECONDS": "1",
            "DELIVERY_HTTP_TIMEOUT": "5",
            "CONN_MAX_AGE": "0",
            "DELIVERY_ALLOW_PRIVATE_DESTINATIONS": "true",  # the receivers listen on 127.0.0.1
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.workers: list[tuple[subprocess.Popen, int]] = []
        self.beat = None
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self):
        while not self._stopped.wait(0.5):
            with self._lock:
                for index, (worker, concurrency) in enumerate(self.workers):
                    if worker.poll() is not None:
                        self.workers[index] = (self._worker(concurrency), concurrency)
                        self.restarts += 1
                if self.beat is not None and self.beat.poll() is not None:
                    self.beat = self._beat()
                    self.restarts += 1

    def _spawn(self, *args, name):
        log = open(Path(self.workdir) / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        return subprocess.Popen(  # noqa: S603 (fixed arguments)
            [CELERY, "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_worker(self, concurrency: int = 4):
        with self._lock:
            self.workers.append((self._worker(concurrency), concurrency))

    def _worker(self, concurrency):
        return self._spawn(
            "worker",
            "-Q",
            f"{self.default_queue},{self.queue}",
            "-c",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
            name="worker",
        )

    def start_beat(self):
        with self._lock:
            self.beat = self._beat()

    def _beat(self):
        return self._spawn(
            "beat",
            "--scheduler",
            "celery.beat:PersistentScheduler",
            "-s",
            str(Path(self.workdir) / "beat-schedule"),
            "-l",
            "WARNING",
            name="beat",
        )

    def kill_workers(self):
        """SIGKILL every worker and its pool: no shutdown, no acknowledgement, transactions cut off."""
        with self._lock:
            for worker, _ in self.workers:
                _kill(worker)
            self.workers = []

    def stop(self):
        self._stopped.set()
        self.kill_workers()
        with self._lock:
            if self.beat is not None:
                _kill(self.beat)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in Path(self.workdir).glob("*.log")
        )
