"""Real processes for the reliability tests: a private Redis (so restarting it disturbs nobody), Celery worker
and beat processes under supervisord on the test database, and a helper to wait for a condition."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


class Celery:
    """Celery worker and beat processes on the test database and a private broker, with queue names of their
    own, run by supervisord from ``deploy/supervisord.conf``: the operator's set-up, so a worker that exits (a
    Celery worker may shut down on losing its Redis broker) or is killed is started again by supervisord."""

    def __init__(self, broker: PrivateRedis, concurrency: int = 4, **env):
        suffix = uuid.uuid4().hex[:8]
        self.queue = f"candor_test_delivery_{suffix}"
        self.default_queue = f"candor_test_delivery_default_{suffix}"
        self.broker = broker
        self.workdir = tempfile.mkdtemp(prefix="candor_test_delivery_")
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": broker.url,
            "DELIVERY_QUEUE": self.queue,
            "CELERY_DEFAULT_QUEUE": self.default_queue,
            "DELIVERY_WORKER_CONCURRENCY": str(concurrency),
            "CELERY_BEAT_SCHEDULER": "celery.beat:PersistentScheduler",
            "CELERY_BEAT_SCHEDULE_FILENAME": str(Path(self.workdir) / "beat-schedule"),
            "DELIVERY_SWEEP_SECONDS": "0.5",
            "DELIVERY_SWEEP_GRACE_SECONDS": "1",
            "DELIVERY_HTTP_TIMEOUT": "5",
            "DELIVERY_LEASE_SECONDS": "3",
            "CONN_MAX_AGE": "0",
            "LOG_LEVEL": "WARNING",
            "DELIVERY_ALLOW_PRIVATE_DESTINATIONS": "true",  # the receivers listen on 127.0.0.1
            **env,
        }
        self.supervisord = None

    def start(self):
        self.supervisord = subprocess.Popen(  # noqa: S603 (fixed arguments)
            [
                str(Path(sys.executable).parent / "supervisord"),
                "-c",
                str(ROOT / "deploy" / "supervisord.conf"),
                "-l",
                str(Path(self.workdir) / "supervisord.log"),
                "-j",
                str(Path(self.workdir) / "supervisord.pid"),
                "-q",
                self.workdir,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: len(self._children()) == 3, timeout=30, message="supervisord to start its programs"
        )
        return self

    def _children(self) -> dict[int, str]:
        """The programs supervisord runs now: pid -> command line."""
        found = {}
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.supervisord.pid:
                    pid = int(status.parent.name)
                    found[pid] = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
        return found

    def worker_pids(self) -> list[int]:
        return [pid for pid, command in self._children().items() if " worker " in command]

    def kill_workers(self):
        """SIGKILL every worker and its pool: no shutdown, no acknowledgement, transactions cut off.
        supervisord starts them again."""
        before = set(self.worker_pids())
        for pid in before:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        wait_until(
            lambda: len(set(self.worker_pids()) - before) == 2,
            timeout=30,
            message="the workers to be restarted",
        )

    @property
    def restarts(self) -> int:
        return Path(self.workdir, "supervisord.log").read_text().count("exited: ")

    def stop(self):
        if self.supervisord is None or self.supervisord.poll() is not None:
            return
        programs = list(self._children())
        self.supervisord.terminate()  # stops its programs, each with its process group (stopasgroup)
        try:
            self.supervisord.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.supervisord.kill()
        for pid in programs:  # each program leads its own process group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in Path(self.workdir).glob("*.log")
        )
