"""The fault matrix of issue 18, as one command that prints a table:

    python -m tests.reliability.matrix --customers 200 [--only worker-sigkill,broker-down] [--database URL]

Real PostgreSQL (a database of its own, ``<DATABASE_URL's name>_matrix``, created afresh), a private Redis as
broker, Celery worker and beat under supervisord (``deploy/supervisord.conf``), verifying receivers and RabbitMQ.
Per fault: changes are driven throughout; the fault starts a few seconds in and ends; the driver stops at the
fault's end, and the run waits until every customer's latest version is at the destination. Columns:

- lost: customers whose latest version never arrived (within ``--patience`` seconds of the fault's end);
- reordered: customers whose versions were applied out of order;
- same-version resend (new id): a version applied a second time under another message id (receivers dedupe by
  id, so a resend under the same id is harmless and not counted; a resync's deliberate copies are not counted);
- convergence: seconds from the fault's end until every customer's latest version had arrived.
"""

import argparse
import json
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

SCENARIOS = [
    "worker-sigkill",
    "broker-down-30s",
    "receiver-down-60s",
    "503-429",
    "410-then-enable",
    "hang-beside-healthy",
    "backend-terminations",
    "rabbitmq-resync",
]


@dataclass
class Row:
    fault: str
    customers: int
    changes: int
    lost: int = 0
    reordered: int = 0
    same_version_new_id: int = 0
    convergence: float | None = None
    notes: list = field(default_factory=list)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--only", default="", help="comma-separated faults: " + ", ".join(SCENARIOS))
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second driven during a fault")
    parser.add_argument("--patience", type=float, default=180.0)
    parser.add_argument(
        "--database", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/candor")
    )
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name] or SCENARIOS

    from .harness import PrivateRedis

    broker = PrivateRedis().start()
    suffix = uuid.uuid4().hex[:8]
    queues = {
        "DELIVERY_QUEUE": f"matrix_delivery_{suffix}",
        "CELERY_DEFAULT_QUEUE": f"matrix_default_{suffix}",
    }
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DATABASE_URL=args.database.rstrip("/") + "_matrix",
        REDIS_URL=broker.url,
        DELIVERY_ALLOW_PRIVATE_DESTINATIONS="true",  # the receivers listen on 127.0.0.1
        LOG_LEVEL="ERROR",
        **queues,
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    call_command("seed_demo", customers=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    rows = []
    try:
        for name in only:
            print(f"… {name}", file=sys.stderr, flush=True)
            rows.append(Scenario(name, args, broker, queues).run())
    finally:
        broker.stop()
    print_table(rows, args)


def print_table(rows, args):
    print(f"\nFault matrix: {args.customers} customers, changes at {args.rate:g}/s during each fault\n")
    header = (
        "| fault | changes | lost | reordered | same-version resend (new id) | convergence after fault end |"
    )
    print(header)
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        convergence = f"{row.convergence:.1f} s" if row.convergence is not None else "did not converge"
        notes = f" ({'; '.join(row.notes)})" if row.notes else ""
        print(
            f"| {row.fault}{notes} | {row.changes} | {row.lost} | {row.reordered} | {row.same_version_new_id} "
            f"| {convergence} |"
        )


class Scenario:
    def __init__(self, name, args, broker, queues):
        from apps.delivery import services
        from tests.delivery.receiver import Receiver
        from tests.factories import CustomerFactory

        from .harness import Celery

        self.name, self.args, self.broker = name, args, broker
        self.customers = CustomerFactory.create_batch(args.customers)
        self.receiver = Receiver().start()
        self.extra_receivers = []
        self.changes = 0
        self.rng = random.Random(name)
        self.exchange = None
        self.published = {}
        if name == "rabbitmq-resync":
            self.destination = self._rabbitmq_destination()
        else:
            self.destination = services.add_destination(
                name=f"m-{name}", kind="webhook", endpoint=self.receiver.url
            )
            self.receiver.secret = self.destination.secret
        self.processes = Celery(broker, **queues, DELIVERY_RETRY_SCHEDULE="1,2,4,8,15,30,60,60,60,60,60,60")

    def _rabbitmq_destination(self):
        import pika

        from apps.delivery import services
        from tests.conftest import RABBITMQ_URL

        self.exchange = f"candor_matrix.{uuid.uuid4().hex[:8]}"
        self.amqp = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        self.channel = self.amqp.channel()
        self.channel.exchange_declare(exchange=self.exchange, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare(queue=f"{self.exchange}.q", durable=True).method.queue
        self.channel.queue_bind(queue=self.queue, exchange=self.exchange, routing_key="permissions.#")
        return services.add_destination(
            name="m-rabbitmq", kind="rabbitmq", endpoint=RABBITMQ_URL, options={"exchange": self.exchange}
        )

    # Driving changes ------------------------------------------------------------------------------------

    def change(self, customer):
        from tests.reliability.test_delivery_under_faults import random_change

        random_change(self.rng, customer)
        self.changes += 1

    def drive(self, stop: threading.Event):
        """Changes at ``--rate`` until stopped; like a web process, a request whose database session was killed
        fails and the next one connects again."""
        from django.db import OperationalError, connection

        try:
            while not stop.wait(1 / self.args.rate):
                try:
                    self.change(self.rng.choice(self.customers))
                except OperationalError:
                    connection.close()
        finally:
            connection.close()

    # The run ---------------------------------------------------------------------------------------------

    def run(self) -> Row:
        from django.db import connection

        from apps.delivery.models import Destination

        self.processes.start()
        try:
            for customer in self.customers:  # everyone has a document before the fault
                self.change(customer)
            stop = threading.Event()
            driver = threading.Thread(target=self.drive, args=(stop,), daemon=True)
            driver.start()
            time.sleep(5)
            fault_end = self.inject()
            stop.set()
            driver.join()
            row = self.measure(fault_end)
        finally:
            self.processes.stop()
            self.receiver.stop()
            for receiver in self.extra_receivers:
                receiver.stop()
            connection.close()
        for destination in Destination.objects.filter(name__startswith="m-"):
            destination.delete()  # the next scenario's changes do not fan out to this one
        if self.exchange:
            self.channel.queue_delete(queue=self.queue)
            self.channel.exchange_delete(exchange=self.exchange)
            self.amqp.close()
        return row

    def inject(self) -> float:
        """Start the fault, end it, and return when it ended (time.monotonic())."""
        from django.db import connection

        from apps.delivery import services
        from apps.delivery.models import Destination
        from tests.delivery.receiver import Receiver

        from .harness import wait_until

        name = self.name
        if name == "worker-sigkill":
            self.processes.kill_workers()
        elif name == "broker-down-30s":
            self.broker.stop()
            time.sleep(30)
            self.broker.start()
        elif name == "receiver-down-60s":
            self.receiver.stop()
            time.sleep(60)
            self.receiver.start()
        elif name == "503-429":
            self.receiver.default_headers = {"Retry-After": "2"}
            for status in (503, 429):
                self.receiver.default_status = status
                time.sleep(10)
            self.receiver.default_status, self.receiver.default_headers = 204, {}
        elif name == "410-then-enable":
            self.receiver.script.append((410, {}))
            wait_until(
                lambda: not Destination.objects.get(pk=self.destination.pk).enabled,
                timeout=60,
                message="the 410",
            )
            time.sleep(20)
            services.set_destination_enabled(destination=self.destination, enabled=True)
        elif name == "hang-beside-healthy":
            hanging = Receiver().start()
            hanging.delay = 30
            self.extra_receivers.append(hanging)
            services.add_destination(name="m-hanging", kind="webhook", endpoint=hanging.url)
            time.sleep(30)
        elif name == "backend-terminations":
            for _ in range(10):
                time.sleep(2)
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
        elif name == "rabbitmq-resync":
            while services.resync_batch(destination=self.destination, batch_size=500):
                pass
        return time.monotonic()

    # Measuring -------------------------------------------------------------------------------------------

    def latest(self) -> dict[str, int]:
        from apps.consent.models import Snapshot

        return dict(
            Snapshot.objects.filter(customer__in=self.customers).values_list(
                "customer__external_id", "document__version"
            )
        )

    def arrived(self) -> dict[str, list[tuple[str, int]]]:
        """Per customer, the (message id, version) applied, in order, once per id."""
        if self.exchange is None:
            with self.receiver._lock:
                return {
                    external_id: [("", version) for version in versions]
                    for external_id, versions in self.receiver.applied_versions.items()
                }
        while (message := self.channel.basic_get(queue=self.queue, auto_ack=True))[0] is not None:
            data = json.loads(message[2])["data"]
            self.published.setdefault(data["customer"]["external_id"], []).append(
                (message[1].message_id, data["version"])
            )
        seen, arrived = set(), {}
        for external_id, items in self.published.items():
            for message_id, version in items:
                if message_id not in seen:
                    seen.add(message_id)
                    arrived.setdefault(external_id, []).append((message_id, version))
        return arrived

    def measure(self, fault_end: float) -> Row:
        from apps.delivery.models import Delivery

        latest = self.latest()
        convergence = None
        while time.monotonic() - fault_end < self.args.patience:
            arrived = self.arrived()
            if all(arrived.get(ext) and max(v for _, v in arrived[ext]) >= latest[ext] for ext in latest):
                convergence = time.monotonic() - fault_end
                break
            time.sleep(0.5)
        arrived = self.arrived()
        resync_ids = {
            f"msg_{pk}"
            for pk in Delivery.objects.filter(destination=self.destination, resync=True).values_list(
                "pk", flat=True
            )
        }
        row = Row(fault=self.name, customers=len(latest), changes=self.changes, convergence=convergence)
        for external_id, version in latest.items():
            items = arrived.get(external_id, [])
            versions = [v for _, v in items]
            if not versions or max(versions) < version:
                row.lost += 1
            if versions != sorted(versions):
                row.reordered += 1
            counted = [v for message_id, v in items if message_id not in resync_ids]
            row.same_version_new_id += len(counted) - len(set(counted))
        if self.name == "rabbitmq-resync":
            row.notes.append(f"resync of {len(resync_ids)}")
        if self.name == "worker-sigkill":
            row.notes.append(f"restarts {self.processes.restarts}")
        return row


if __name__ == "__main__":
    main()
