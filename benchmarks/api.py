"""The REST API under load: Candor served by gunicorn, load from a separate process, ratios against bare
baselines measured in the same run. Prints figures and ratios, no verdicts.

    make benchmark-api                       # one million customers (seeding takes a few minutes, once)
    python benchmarks/api.py --customers 200000 --seconds 8

Needs DATABASE_URL (PostgreSQL); seeds and uses a dedicated database <name>_bench_api (or --database).
Customers and their current permission documents are seeded with INSERT ... SELECT generate_series (they do
not go through the write path: these are read benchmarks).

1. single-customer lookup: GET /api/v1/customers/<id>/permissions (key, scope, rate limit, ETag) vs. a bare
   Django view reading one customer row by primary key as JSON; requests/s at saturation, and p99 latency at
   half of each one's saturation rate;
2. full export: rows/s of GET /api/v1/permissions/export vs. psql COPY (SELECT ...) TO STDOUT of the same rows,
   and the peak resident memory of the gunicorn worker that served the export;
3. pagination depth: latency of a page deep in updated-since (and in the change feed) vs. the first page.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_database import ensure_database, sized  # noqa: E402

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


PORT = int(os.environ.get("BENCH_PORT") or free_port())  # inherited by the load processes
os.environ["BENCH_PORT"] = str(PORT)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=sized(1_000_000, 100))
    parser.add_argument("--database", default=None, help="default: <DATABASE_URL's name>_bench_api")
    parser.add_argument(
        "--seconds", type=float, default=sized(5.0, 0.3), help="length of each throughput measurement"
    )
    parser.add_argument(
        "--rounds", type=int, default=sized(5, 1), help="interleaved rounds of API vs. baseline"
    )
    parser.add_argument("--concurrency", type=int, default=sized(8, 2), help="client threads at saturation")
    parser.add_argument("--workers", type=int, default=sized(2, 1), help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=sized(4, 2), help="gunicorn threads per worker")
    parser.add_argument("--seed-only", action="store_true", help="seed the database and stop")
    return parser.parse_args()


# --- database -------------------------------------------------------------------------------------------------


def bench_database_url(args) -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database; the benchmark creates and uses its own.")
    prefix, name = base.rsplit("/", 1)
    return f"{prefix}/{args.database or name + '_bench_api' + sized('', '_tiny')}"


def seed(customers: int) -> str:
    """Migrate, seed the demo catalog and N customers each with a current permission document; return a key."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from apps.api.services import api_client_create
    from apps.consent.models import PermissionDocument

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer WHERE external_id LIKE 'bench-%%'")
        have = cursor.fetchone()[0]
    if have < customers:
        call_command("seed_demo", customers=20, stdout=open(os.devnull, "w"))  # noqa: SIM115
        body = json.dumps(PermissionDocument.objects.order_by("-id").values_list("body", flat=True).first())
        started = time.perf_counter()
        print(f"seeding customers {have + 1}..{customers} (one-off) ...", flush=True)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO customers_customer (external_id, email, phone, name, locale, created_at, link_key) "
                "SELECT 'bench-' || g, 'bench' || g || '@example.com', '', 'Bench ' || g, 'en', now(), "
                "md5(random()::text || g) "
                "FROM generate_series(%s, %s) AS g",
                [have + 1, customers],
            )
            # One document per new customer, in customer order, a millisecond apart (distinct update times).
            cursor.execute(
                "INSERT INTO consent_permissiondocument (customer_id, version, body, derived_from, created_at) "
                "SELECT c.id, 1, %s::jsonb, '[]'::jsonb, "
                "  timestamptz '2026-01-01' + (substr(c.external_id, 7)::bigint * interval '1 millisecond') "
                "FROM customers_customer c LEFT JOIN consent_snapshot s ON s.customer_id = c.id "
                "WHERE c.external_id LIKE 'bench-%%' AND s.customer_id IS NULL ORDER BY c.id",
                [body],
            )
            cursor.execute(
                "INSERT INTO consent_snapshot (customer_id, choices, last_sequence, last_hash, document_id, "
                "updated_at) SELECT d.customer_id, '{}'::jsonb, 0, %s, d.id, now() "
                "FROM consent_permissiondocument d LEFT JOIN consent_snapshot s ON s.customer_id = d.customer_id "
                "WHERE s.customer_id IS NULL",
                ["0" * 64],
            )
            cursor.execute("VACUUM ANALYZE") if connection.connection.autocommit else None
        print(f"seeded in {time.perf_counter() - started:.0f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _, raw_key = api_client_create(name=f"bench-{int(time.time())}", scopes=["permissions:read"])
    return raw_key


def deep_cursors(fraction: float) -> tuple[str, str]:
    """Cursors that point ``fraction`` of the way into updated-since and into the change feed."""
    from django.db import connection

    from apps.api.selectors import encode_cursor

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM consent_permissiondocument")
        depth = int(cursor.fetchone()[0] * fraction)
        cursor.execute(
            "SELECT created_at, id FROM consent_permissiondocument ORDER BY created_at, id OFFSET %s LIMIT 1",
            [depth],
        )
        created_at, document_id = cursor.fetchone()
        cursor.execute(
            "SELECT commit_xid, id FROM consent_permissiondocument ORDER BY commit_xid, id OFFSET %s LIMIT 1",
            [depth],
        )
        xid, feed_id = cursor.fetchone()
    return encode_cursor(created_at.isoformat(), document_id), encode_cursor(xid, feed_id)


# --- serving ----------------------------------------------------------------------------------------------------


def start_gunicorn(args, env) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--pythonpath",
            f"{ROOT},{ROOT / 'benchmarks'}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            connection = http.client.HTTPConnection(HOST, PORT, timeout=2)
            connection.request("GET", "/api/schema/")
            connection.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    sys.exit("gunicorn did not start")


def worker_pids(server: subprocess.Popen) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# --- load (runs in a separate process) ---------------------------------------------------------------------------


def _load(paths, headers, seconds, concurrency, rate, results):
    """Closed loop at full speed (rate=None) or paced at ``rate`` requests/s in total; returns latencies."""
    latencies, errors, stop_at = [], [0], time.monotonic() + seconds
    lock = threading.Lock()
    interval = concurrency / rate if rate else 0

    def run(number):
        rng = random.Random(number)
        connection = http.client.HTTPConnection(HOST, PORT, timeout=30)
        mine, next_at = [], time.monotonic() + rng.uniform(0, interval)
        while True:
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += interval
            if time.monotonic() >= stop_at:
                break
            started = time.perf_counter()
            try:
                connection.request("GET", rng.choice(paths), headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(HOST, PORT, timeout=30)
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, errors[0]))


def load(paths, headers, seconds, concurrency, rate=None) -> tuple[float, float, int]:
    """Requests/s and p99 latency (ms) of a load run in a separate process."""
    results = multiprocessing.Queue()
    process = multiprocessing.Process(
        target=_load, args=(paths, headers, seconds, concurrency, rate, results)
    )
    process.start()
    latencies, errors = results.get()
    process.join()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    return len(latencies) / seconds, p99, errors


def export_rate(headers, pids) -> tuple[float, int, float]:
    """Rows/s of the NDJSON export, and the peak RSS (MiB) of the worker that served it."""
    before = {pid: memory_kib(pid, "VmHWM") for pid in pids}
    connection = http.client.HTTPConnection(HOST, PORT, timeout=600)
    started = time.perf_counter()
    connection.request("GET", "/api/v1/permissions/export", headers=headers)
    response = connection.getresponse()
    rows = 0
    while chunk := response.read(1 << 20):
        rows += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    after = {pid: memory_kib(pid, "VmHWM") for pid in pids}
    busiest = max(pids, key=lambda pid: after[pid] - before[pid])
    return rows / elapsed, rows, after[busiest] / 1024


def copy_rate(database_url) -> tuple[float, int]:
    query = (
        "COPY (SELECT c.external_id, d.version, d.created_at, d.body FROM customers_customer c "
        "LEFT JOIN consent_snapshot s ON s.customer_id = c.id "
        "LEFT JOIN consent_permissiondocument d ON d.id = s.document_id ORDER BY c.id) TO STDOUT"
    )
    started = time.perf_counter()
    process = subprocess.Popen(["psql", database_url, "-X", "-q", "-c", query], stdout=subprocess.PIPE)
    rows = 0
    while chunk := process.stdout.read(1 << 20):
        rows += chunk.count(b"\n")
    process.wait()
    return rows / (time.perf_counter() - started), rows


PAGE_REQUESTS = sized(150, 3)


def page_latencies(first_path, deep_path, headers, requests=PAGE_REQUESTS) -> tuple[float, float]:
    """Median latency (ms) of the first and of a deep page, requested one at a time, alternately."""
    connection = http.client.HTTPConnection(HOST, PORT, timeout=30)
    timings = {first_path: [], deep_path: []}
    for _ in range(requests):
        for path in (first_path, deep_path):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
            timings[path].append(time.perf_counter() - started)
    return statistics.median(timings[first_path]) * 1000, statistics.median(timings[deep_path]) * 1000


def main():
    args = parse_args()
    database_url = bench_database_url(args)
    ensure_database(database_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "api_bench_settings"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["API_RATE_LIMIT"] = "100000000/min"  # counted as usual, never reached
    raw_key = seed(args.customers)
    if args.seed_only:
        return
    deep_updated, deep_feed = deep_cursors(0.9)
    from django.db import connection

    rng = random.Random(7)
    sample = [f"bench-{rng.randint(1, args.customers)}" for _ in range(5000)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM customers_customer WHERE external_id = ANY(%s)", [sample])
        sample_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM customers_customer")
        total = cursor.fetchone()[0]
    connection.close()

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "api_bench_settings", "ALLOWED_HOSTS": HOST}
    server = start_gunicorn(args, env)
    try:
        headers = {"Authorization": f"Bearer {raw_key}", "Host": HOST}
        api_paths = [f"/api/v1/customers/{external_id}/permissions" for external_id in sample]
        bare_paths = [f"/bench/bare/{pk}" for pk in sample_ids]
        print(
            f"{total} customers; gunicorn {args.workers} workers x {args.threads} threads on {os.cpu_count()} "
            f"CPUs; load: {args.concurrency} client threads in a separate process"
        )

        load(api_paths, headers, sized(2, 0.3), args.concurrency)  # warm-up
        load(bare_paths, headers, sized(2, 0.3), args.concurrency)
        api_rates, bare_rates, ratios = [], [], []
        for round_number in range(args.rounds):
            api_rate, _, api_errors = load(api_paths, headers, args.seconds, args.concurrency)
            bare_rate, _, bare_errors = load(bare_paths, headers, args.seconds, args.concurrency)
            api_rates.append(api_rate)
            bare_rates.append(bare_rate)
            ratios.append(api_rate / bare_rate)
            print(
                f"  round {round_number + 1}: API lookup {api_rate:7.0f} req/s   bare view {bare_rate:7.0f} req/s"
                f"   ratio {api_rate / bare_rate:.2f}   (errors {api_errors}/{bare_errors})"
            )
        api_saturation, bare_saturation = statistics.median(api_rates), statistics.median(bare_rates)
        _, api_p99, _ = load(api_paths, headers, args.seconds, args.concurrency, rate=api_saturation / 2)
        _, bare_p99, _ = load(bare_paths, headers, args.seconds, args.concurrency, rate=bare_saturation / 2)
        print(
            f"single-customer lookup: median {api_saturation:.0f} req/s vs bare {bare_saturation:.0f} req/s; "
            f"ratio (median of rounds) {statistics.median(ratios):.2f} (target >= 0.6)"
        )
        print(
            f"  p99 at half of saturation: API {api_p99:.1f} ms (at {api_saturation / 2:.0f} req/s), "
            f"bare {bare_p99:.1f} ms (at {bare_saturation / 2:.0f} req/s)"
        )

        api_rows_rate, rows, peak_mib = export_rate(headers, worker_pids(server))
        copy_rows_rate, copy_rows = copy_rate(database_url)
        print(
            f"full export: {api_rows_rate:.0f} rows/s ({rows} rows) vs psql COPY {copy_rows_rate:.0f} rows/s "
            f"({copy_rows} rows): ratio {api_rows_rate / copy_rows_rate:.2f} (target >= 0.4); "
            f"peak RSS of the serving worker {peak_mib:.0f} MiB"
        )

        base = "/api/v1/permissions?updated_since=2000-01-01T00:00:00Z&limit=100"
        first, deep = page_latencies(base, f"{base}&cursor={deep_updated}", headers)
        feed = "/api/v1/permissions/changes?limit=100"
        feed_first, feed_deep = page_latencies(feed, f"{feed}&after={deep_feed}", headers)
        print(
            f"pagination (100 per page, 90% deep): updated-since first {first:.1f} ms, deep {deep:.1f} ms: "
            f"ratio {deep / first:.2f} (target <= 1.2); change feed first {feed_first:.1f} ms, "
            f"deep {feed_deep:.1f} ms: ratio {feed_deep / feed_first:.2f}"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
