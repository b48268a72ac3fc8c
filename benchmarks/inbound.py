"""Signed Twilio STOPs against a bare Django view, in the same process and run; and receipt to delivered.

1. Server time: rounds of signed STOP posts (Django's full handler, ``RequestValidator``, classification, the
   report kept as received, and the publish of its recording to the priority queue, as production makes it)
   interleaved with a bare view doing one indexed single-row UPDATE. Prints both rates and their ratio (target
   >= 0.3). After each round the received reports are recorded in-process as a worker records them
   (``record_received``: ``record_choices`` and the report), timed apart: what each STOP costs the worker.
2. With a Celery worker on the default, delivery and priority queues and a local webhook receiver (which
   verifies every signature), STOPs are posted at a steady pace. Receipt to ledger: p95 from each report's own
   ``received_at`` and ``recorded_at`` (target < 100 ms). Receipt to delivered: p95 from posting each to the
   receiver applying its document (target < 2 s).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/inbound.py

``PROFILE=stop`` (or ``bare``, or ``record``: the worker's part) prints instead where one kind of request's time
goes (cProfile) and the SQL statements one request runs, with the figures' settings (no worker, no destination).
"""

import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
from bench_database import sized, use_bench_database  # noqa: E402

if not os.environ.get("REDIS_URL"):
    sys.exit("Set REDIS_URL (and DATABASE_URL to PostgreSQL): the benchmark's worker needs a broker.")
use_bench_database("_inbound_bench")
SUFFIX = uuid.uuid4().hex[:8]
QUEUES = {
    "CELERY_DEFAULT_QUEUE": f"candor_bench_default_{SUFFIX}",
    "DELIVERY_QUEUE": f"candor_bench_delivery_{SUFFIX}",
    "DELIVERY_PRIORITY_QUEUE": f"candor_bench_priority_{SUFFIX}",
}
os.environ.update(QUEUES)
os.environ["DELIVERY_ALLOW_PRIVATE_DESTINATIONS"] = "true"  # the receiver listens on 127.0.0.1
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DELIVERY_ALLOW_PRIVATE_DESTINATIONS"] = "true"  # the receiver listens on 127.0.0.1

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from apps.catalog.selectors import current_notice_version  # noqa: E402
from apps.consent.models import InboundReport, Snapshot  # noqa: E402
from apps.consent.rules import Choice, Provenance  # noqa: E402
from apps.consent.services import record_choices  # noqa: E402
from apps.customers.models import Customer  # noqa: E402
from apps.customers.services import customer_upsert, mark_phone_verified  # noqa: E402
from apps.delivery import services  # noqa: E402
from apps.delivery.models import Destination  # noqa: E402
from apps.inbound.models import InboundSource  # noqa: E402
from apps.inbound.services import add_inbound_source, record_received, record_waiting  # noqa: E402
from tests.delivery.receiver import Receiver  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", sized(5, 1)))
PER_ROUND = int(os.environ.get("PER_ROUND", sized(100, 2)))
LATENCY_STOPS = int(os.environ.get("LATENCY_STOPS", sized(100, 2)))
LATENCY_PACE = float(os.environ.get("LATENCY_PACE", 0.05))  # seconds between STOPs
CONCURRENCY = os.environ.get("INBOUND_BENCH_CONCURRENCY", "2")
WARM_UP = sized(10, 1)
TOKEN = "bench-auth-token"
PATH = "/inbound/bench-texts/"


def bare(request, pk):
    Customer.objects.filter(pk=pk).update(name=f"n{time.monotonic_ns() % 1000}")
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/<int:pk>/", bare), path("", include("config.urls"))]


def prepare():
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=1, stdout=open(os.devnull, "w"))  # noqa: SIM115
    InboundSource.objects.filter(name="bench-texts").delete()
    add_inbound_source(name="bench-texts", kind="twilio", signing_key=TOKEN)
    count = max(PER_ROUND, LATENCY_STOPS + WARM_UP)
    customers = [
        customer_upsert(external_id=f"inbound-bench-{n:04d}", phone=f"+4915199{n:05d}")[0]
        for n in range(count)
    ]
    for customer in customers:  # texts need a verified number before they can be switched on
        mark_phone_verified(customer=customer)
    # What an earlier run left waiting (a PROFILE run records none of its STOPs).
    record_waiting(received_before=timezone.now(), limit=10**6)
    return customers


def texts_on(customers):
    """Switch texts on again for everyone (untimed), so each STOP changes something."""
    version = current_notice_version("channel:sms").pk
    for customer in customers:
        record_choices(
            customer=customer,
            choices=[Choice(purpose="channel:sms", state="given", notice_version_id=version)],
            provenance=Provenance(source="import", actor="import:bench"),
        )


def signed_stop(client, customer):
    params = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": "AC" + "0" * 32,
        "From": customer.phone,
        "To": "+15005550006",
        "Body": "STOP",
    }
    signature = RequestValidator(TOKEN).compute_signature(settings.SITE_URL.rstrip("/") + PATH, params)
    # Form-encoded, as Twilio posts it (the test client's default would be multipart).
    response = client.post(
        PATH,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 200, response.content[:300]
    assert b"<Message>" in response.content, response.content[:300]


def drain_outbox():
    while services.fan_out_outbox().entries:
        pass


def server_time(customers):
    client = Client()
    bare_url = f"/bench/bare/{customers[0].pk}/"
    for customer in customers[:10]:  # warm up
        signed_stop(client, customer)
        client.get(bare_url)
    record_waiting(received_before=timezone.now(), limit=len(customers))  # the warm-up's
    times = {"stop": [], "bare": [], "recording": []}
    for _ in range(ROUNDS):
        texts_on(customers[:PER_ROUND])
        for customer in customers[:PER_ROUND]:
            start = time.perf_counter()
            signed_stop(client, customer)
            times["stop"].append(time.perf_counter() - start)
            start = time.perf_counter()
            assert client.get(bare_url).status_code == 200
            times["bare"].append(time.perf_counter() - start)
        for report_id in waiting_reports():  # what the worker does for each, untimed by the rates above
            start = time.perf_counter()
            assert record_received(report_id) == InboundReport.Outcome.RECORDED
            times["recording"].append(time.perf_counter() - start)
    return times


def waiting_reports():
    return list(
        InboundReport.objects.filter(source_name="bench-texts", outcome="received")
        .order_by("received_at")
        .values_list("pk", flat=True)
    )


def receipt_to_ledger(since):
    return sorted(
        (recorded - received).total_seconds()
        for received, recorded in InboundReport.objects.filter(
            source_name="bench-texts", outcome="recorded", received_at__gte=since
        ).values_list("received_at", "recorded_at")
    )


def receipt_to_delivered(customers, receiver):
    client = Client()
    settings.CONSENT_ON_OUTBOX_COMMIT = ""
    texts_on(customers[:LATENCY_STOPS])
    drain_outbox()  # the re-grants wait as pending deliveries: each STOP's push supersedes its customer's
    settings.CONSENT_ON_OUTBOX_COMMIT = "apps.delivery.tasks.on_outbox_commit"
    texts_on(customers[LATENCY_STOPS : LATENCY_STOPS + WARM_UP])
    for customer in customers[
        LATENCY_STOPS : LATENCY_STOPS + WARM_UP
    ]:  # warm up every worker process: not counted
        signed_stop(client, customer)
    time.sleep(2)
    started = timezone.now()
    posted = {}
    for customer in customers[:LATENCY_STOPS]:
        # The document version the STOP makes: the one after the customer's current one.
        version = Snapshot.objects.filter(customer=customer).values_list("document__version", flat=True).get()
        start = time.perf_counter()
        signed_stop(client, customer)
        posted[(customer.external_id, version + 1)] = start
        time.sleep(LATENCY_PACE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with receiver._lock:
            if all(key in receiver.arrived for key in posted):
                break
        time.sleep(0.005)
    else:
        sys.exit(f"Timed out: {sum(k in receiver.arrived for k in posted)} of {len(posted)} arrived.")
    return receipt_to_ledger(started), sorted(receiver.arrived[key] - at for key, at in posted.items())


def p95(values):
    return values[int(0.95 * (len(values) - 1))]


def forget_queued_tasks():
    """What the first phase queued (its priority pushes) goes nowhere: no worker ran and no destination existed."""
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(*QUEUES.values())


def profile(customers, kind):
    """Where a STOP's (or the bare view's, or the worker's recording of a STOP) time goes, and the statements one
    of them runs."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    bare_url = f"/bench/bare/{customers[0].pk}/"
    requests = {
        "stop": lambda customer: signed_stop(client, customer),
        "bare": lambda _: client.get(bare_url),
    }
    for customer in customers[:10]:  # warm up
        signed_stop(client, customer)
        client.get(bare_url)
    record_waiting(received_before=timezone.now(), limit=len(customers))
    texts_on(customers[:PER_ROUND])
    if kind == "record":  # the STOPs are posted first, untimed; each "request" records one
        for customer in customers[:PER_ROUND]:
            signed_stop(client, customer)
        waiting = iter(waiting_reports())
        requests["record"] = lambda _: record_received(next(waiting))
    request = requests[kind]
    with CaptureQueriesContext(connection) as queries:
        request(customers[0])
    print(f"{len(queries)} statements in one {kind} request:")
    for query in queries:
        print(f"  {query['sql'][:160]}")
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [request(customer) for customer in customers[1:PER_ROUND]])
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(50)


def main():
    customers = prepare()
    if os.environ.get("PROFILE") in ("stop", "bare", "record"):
        profile(customers, os.environ["PROFILE"])
        forget_queued_tasks()
        return
    times = server_time(customers)
    stop_rate, bare_rate = len(times["stop"]) / sum(times["stop"]), len(times["bare"]) / sum(times["bare"])
    print(f"{ROUNDS} rounds x {PER_ROUND} signed STOPs, interleaved with as many bare-view requests")
    for name, rate in (("stop", stop_rate), ("bare", bare_rate)):
        ordered = sorted(times[name])
        print(
            f"{name:4} p50 {statistics.median(ordered) * 1000:6.2f} ms  p95 {p95(ordered) * 1000:6.2f} ms  "
            f"{rate:7.1f} req/s"
        )
    print(f"ratio signed STOP / bare view: {stop_rate / bare_rate:.2f} (target >= 0.3)")
    # A shared machine's load lands in the rates' tails; the lower quartiles move much less between runs.
    quartile = {name: statistics.quantiles(values, n=4)[0] for name, values in times.items()}
    print(f"ratio of the lower quartiles: {quartile['bare'] / quartile['stop']:.2f}")
    recording = sorted(times["recording"])
    print(
        f"recording each received STOP, as the worker does: p50 {statistics.median(recording) * 1000:.2f} ms, "
        f"p95 {p95(recording) * 1000:.2f} ms"
    )

    drain_outbox()
    forget_queued_tasks()
    receiver = Receiver().start()
    Destination.objects.filter(name="inbound-bench").delete()
    destination = services.add_destination(name="inbound-bench", kind="webhook", endpoint=receiver.url)
    receiver.secret = destination.secret
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-c", CONCURRENCY,
         "-Q", ",".join(QUEUES.values()), "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-l", "WARNING"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        time.sleep(3)
        to_ledger, delays = receipt_to_delivered(customers, receiver)
        print(
            f"receipt to ledger over {len(to_ledger)} STOPs through the priority queue: p50 "
            f"{statistics.median(to_ledger) * 1000:.1f} ms, p95 {p95(to_ledger) * 1000:.1f} ms (target < 100 ms)"
        )
        print(
            f"receipt to delivered, {LATENCY_STOPS} STOPs {LATENCY_PACE * 1000:.0f} ms apart, worker "
            f"concurrency {CONCURRENCY}: p50 {statistics.median(delays) * 1000:.0f} ms, "
            f"p95 {p95(delays) * 1000:.0f} ms (target < 2000 ms)"
        )
        print(f"receiver: {receiver.bad_signatures} bad signatures, {len(receiver.duplicate_ids)} duplicates")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        receiver.stop()
        forget_queued_tasks()


if __name__ == "__main__":
    main()
