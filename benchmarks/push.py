"""Webhook deliveries per second through the pipeline, against a plain loop of signed POSTs; and p95 time
from commit to receipt.

Both send to the same local receiver (which verifies every signature with ``standardwebhooks``), interleaved
in rounds so machine noise hits both alike:
- baseline: one process, one keep-alive httpx client, signed POSTs in a loop;
- pipeline: a burst of committed changes is fanned out from the outbox and delivered by a real Celery worker
  (``DELIVERY_BENCH_CONCURRENCY`` processes), from the fan-out until the last one is received.
A first burst of the full size warms every worker process (its database connection, HTTP client, imports)
and is not counted; the ratio is the median of ``ROUNDS`` rounds (default 5). Then, with the fast path on,
changes are committed at a steady pace and the time from each commit to its receipt is measured. Prints both
rates, their ratio (target >= 0.7) and the p95 latency (target < 2 s).

    make benchmarks     # or: DATABASE_URL=postgres://…/candor REDIS_URL=redis://127.0.0.1:6379/0 python benchmarks/push.py
"""

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
from bench_database import sized, use_bench_database  # noqa: E402

if not os.environ.get("REDIS_URL"):
    sys.exit("Set REDIS_URL (and DATABASE_URL to PostgreSQL): the benchmark's worker needs a broker.")
use_bench_database("_push_bench")
SUFFIX = uuid.uuid4().hex[:8]
os.environ["DELIVERY_QUEUE"] = f"candor_bench_delivery_{SUFFIX}"
os.environ["CELERY_DEFAULT_QUEUE"] = f"candor_bench_default_{SUFFIX}"
os.environ["CONSENT_ON_OUTBOX_COMMIT"] = ""
os.environ["DELIVERY_ALLOW_PRIVATE_DESTINATIONS"] = "true"  # the receiver listens on 127.0.0.1
os.environ.setdefault("LOG_LEVEL", "WARNING")  # switched on for the latency phase only

import django  # noqa: E402
import httpx  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from apps.catalog.selectors import current_notice_version  # noqa: E402
from apps.consent.models import Snapshot  # noqa: E402
from apps.consent.rules import Choice, Provenance  # noqa: E402
from apps.consent.services import record_choices  # noqa: E402
from apps.customers.services import customer_upsert  # noqa: E402
from apps.delivery import services, tasks  # noqa: E402
from apps.delivery.adapters import Message  # noqa: E402
from apps.delivery.adapters.webhook import signed_request  # noqa: E402
from apps.delivery.models import Delivery, Destination  # noqa: E402
from tests.delivery.receiver import Receiver  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", sized(5, 1)))
BURST = int(os.environ.get("BURST", sized(1000, 4)))
LATENCY_CHANGES = int(os.environ.get("LATENCY_CHANGES", sized(100, 2)))
LATENCY_PACE = float(os.environ.get("LATENCY_PACE", 0.05))  # seconds between changes
CONCURRENCY = os.environ.get("DELIVERY_BENCH_CONCURRENCY", str(sized(os.cpu_count(), 1)))
BATCH = int(os.environ.get("BATCH", 50))  # the webhook default


def prepare(receiver):
    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=1, stdout=open(os.devnull, "w"))  # noqa: SIM115
    Destination.objects.filter(name="bench").delete()
    destination = services.add_destination(
        name="bench", kind="webhook", endpoint=receiver.url, batch_size=BATCH
    )
    receiver.secret = destination.secret
    customers = [
        customer_upsert(external_id=f"push-bench-{n:04d}", email=f"push{n}@example.com")[0]
        for n in range(BURST)
    ]
    return destination, customers, current_notice_version("channel:sms").pk


def toggle(customer, version):
    """Flip the customer's SMS consent, so every change makes a new document version."""
    current = Snapshot.objects.filter(customer=customer).values_list("choices", flat=True).first() or {}
    state = "withdrawn" if current.get("channel:sms", {}).get("state") == "given" else "given"
    recorded = record_choices(
        customer=customer,
        choices=[Choice(purpose="channel:sms", state=state, notice_version_id=version)],
        provenance=Provenance(source="import", actor="import:bench"),
    )
    assert recorded.document_changed
    return recorded


def wait_for(receiver, keys, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver._lock:
            if all(key in receiver.arrived for key in keys):
                return max(receiver.arrived[key] for key in keys)
        time.sleep(0.005)
    sys.exit(f"Timed out: {sum(k in receiver.arrived for k in keys)} of {len(keys)} arrived.")


def baseline(destination, messages):
    with httpx.Client(timeout=10) as client:
        started = time.perf_counter()
        for message in messages:
            body, headers = signed_request(destination, message)
            client.post(destination.endpoint, content=body, headers=headers).raise_for_status()
        return len(messages) / (time.perf_counter() - started)


def pipeline_burst(receiver, customers, version):
    keys = [(c.external_id, toggle(c, version).document.version) for c in customers]
    started = time.perf_counter()
    tasks.fan_out_outbox.delay()
    return len(keys) / (wait_for(receiver, keys) - started)


def latency(receiver, customers, version):
    settings.CONSENT_ON_OUTBOX_COMMIT = "apps.delivery.tasks.on_outbox_commit"
    committed = {}
    for n in range(LATENCY_CHANGES):
        customer = customers[n % len(customers)]
        recorded = toggle(customer, version)
        committed[(customer.external_id, recorded.document.version)] = time.perf_counter()
        time.sleep(LATENCY_PACE)
    wait_for(receiver, list(committed))
    settings.CONSENT_ON_OUTBOX_COMMIT = ""
    return sorted(receiver.arrived[key] - at for key, at in committed.items())


def main():
    receiver = Receiver().start()
    destination, customers, version = prepare(receiver)
    env = {**os.environ, "LOG_LEVEL": "WARNING", "DELIVERY_SWEEP_SECONDS": "1"}
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-c", CONCURRENCY,
         "-Q", f"{os.environ['CELERY_DEFAULT_QUEUE']},{os.environ['DELIVERY_QUEUE']}",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        time.sleep(3)
        pipeline_burst(receiver, customers, version)  # warm-up of every worker process, not counted
        # The baseline posts what the pipeline sends (a real document), each under an id of its own.
        sample = services.payload(
            destination, Delivery.objects.select_related("document", "customer").first()
        )
        messages = [
            Message(id=f"base_{n}_{SUFFIX}", customer_id=0, version=0, payload=sample)
            for n in range(BURST * (ROUNDS + 1))
        ]
        baseline(destination, messages[:20])  # warm-up
        bare_rates, pipe_rates, ratios = [], [], []
        for round_number in range(ROUNDS):
            bare = baseline(destination, messages[BURST * (round_number + 1) : BURST * (round_number + 2)])
            pipe = pipeline_burst(receiver, customers, version)
            bare_rates.append(bare)
            pipe_rates.append(pipe)
            ratios.append(pipe / bare)
            print(
                f"round {round_number + 1}: plain signed POSTs {bare:7.0f}/s   pipeline {pipe:7.0f}/s   ratio {pipe / bare:.2f}"
            )
        delays = latency(receiver, customers, version)
        p95 = delays[int(0.95 * (len(delays) - 1))]
        print(
            f"deliveries: pipeline median {statistics.median(pipe_rates):.0f}/s; plain signed POST loop median "
            f"{statistics.median(bare_rates):.0f}/s; ratio (median of {ROUNDS} rounds) "
            f"{statistics.median(ratios):.2f}, from {min(ratios):.2f} to {max(ratios):.2f} (target >= 0.7); "
            f"burst of {BURST}, batches of {BATCH}, worker concurrency {CONCURRENCY}"
        )
        print(
            f"commit to receipt, {LATENCY_CHANGES} changes {LATENCY_PACE * 1000:.0f} ms apart: "
            f"p50 {statistics.median(delays) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (target < 2000 ms)"
        )
        print(f"receiver: {receiver.bad_signatures} bad signatures, {len(receiver.duplicate_ids)} duplicates")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        receiver.stop()


if __name__ == "__main__":
    main()
