"""The sender's API in bulk: a 10,000-decision request against a bare view reading as many rows, in the same run.

Seeds ``--customers`` customers (default one million) into ``<DATABASE_URL's name>_bench_decisions`` with
``generate_series`` (kept between runs; only the missing ones are added), each with a snapshot and permission
document copied from three template customers recorded through the write path (one allows email, texts and app
notifications in real time, one has quiet hours and a weekly cap, one withdrew). The tables and indexes both
sides read are prewarmed into the OS cache (``pg_prewarm``), as on a serving database. Then, interleaved in rounds so
machine noise hits both alike, through Django's full handler in this process (no network):
  - ``POST /api/v1/decisions`` with ``--batch`` random customers (key, scope, rate limit, parsing, two or three
    queries, the rules, JSON);
  - the bare baseline: a plain Django view that reads the same customers' rows (id, external id and choices,
    the customer joined to their snapshot) with one ``WHERE c.id = ANY(%s)`` and answers them as JSON; and the
    same read answering only the ids (a reply about as large as the decisions');
  - ``POST /api/v1/links`` for ``--links`` recipients.
Prints medians and 95th percentiles in milliseconds and the ratio baseline/decisions (1.0: as fast as the bare
read). No verdicts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor python benchmarks/decisions.py --customers 1000000
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
from bench_database import sized, use_bench_database  # noqa: E402

parser.add_argument(
    "--customers", type=int, default=sized(1_000_000, 100), help="customers to seed (default 1,000,000)"
)
parser.add_argument(
    "--batch", type=int, default=sized(10_000, 10), help="decisions per request (default 10,000)"
)
parser.add_argument(
    "--links", type=int, default=sized(1_000, 5), help="recipients per links request (default 1,000)"
)
parser.add_argument("--rounds", type=int, default=sized(20, 1))
args = parser.parse_args()

use_bench_database("_bench_decisions")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from apps.api.services import api_client_create  # noqa: E402
from apps.consent.models import Snapshot  # noqa: E402
from apps.consent.rules import Choice, Provenance  # noqa: E402
from apps.consent.services import record_choices  # noqa: E402
from apps.customers.models import Customer  # noqa: E402

BARE_SQL = (
    "SELECT c.id, c.external_id, s.choices FROM customers_customer c "
    "JOIN consent_snapshot s ON s.customer_id = c.id WHERE c.id = ANY(%s)"
)


@csrf_exempt
def bare_rows(request):
    """The rows as JSON; with ``?short`` the choices are decoded but only the ids answered (a reply as small as
    the decisions', so the comparison is of reading plus rules, not of 15 MB of JSON written out)."""
    ids = json.loads(request.body)["ids"]
    with connection.cursor() as cursor:
        cursor.execute(BARE_SQL, [ids])
        rows = [
            {"id": pk, "external_id": external_id, "choices": json.loads(choices)}
            for pk, external_id, choices in cursor.fetchall()
        ]
    if "short" in request.GET:
        rows = [{"id": row["id"], "external_id": row["external_id"]} for row in rows]
    return JsonResponse({"rows": rows})


# The project's URLs plus the bare view; ROOT_URLCONF points at this script while it runs.
urlpatterns = [path("", include("config.urls")), path("bench/bare", bare_rows)]
settings.ROOT_URLCONF = "__main__"


def version(purpose: str) -> int:
    from apps.catalog.selectors import current_notice_version

    return current_notice_version(purpose).pk


def template_customers() -> list[Customer]:
    """Three customers whose snapshots every seeded customer copies, made through the write path."""
    templates = []
    frequencies = [
        {"digest": "real_time"},
        {
            "digest": "real_time",
            "weekly_cap": 3,
            "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"},
        },
        {"digest": "real_time"},
    ]
    for index, frequency in enumerate(frequencies):
        customer, _ = Customer.objects.get_or_create(
            external_id=f"template-{index}",
            defaults={"email": f"template{index}@example.com", "phone": "+4915100000000"},
        )
        if not Snapshot.objects.filter(customer=customer).exists():
            record_choices(
                customer=customer,
                choices=[
                    Choice("channel:email", "given", version("channel:email")),
                    Choice("channel:sms", "given", version("channel:sms")),
                    Choice("channel:push", "given", version("channel:push")),
                    Choice(
                        "topic:new-arrivals",
                        "given",
                        version("topic:new-arrivals"),
                        {"channels": ["email", "push"]},
                    ),
                    Choice(
                        "topic:sales-and-offers",
                        "given",
                        version("topic:sales-and-offers"),
                        {"channels": ["email", "sms"]},
                    ),
                    Choice(
                        "topic:back-in-stock",
                        "given",
                        version("topic:back-in-stock"),
                        {"channels": ["sms", "push"]},
                    ),
                    Choice("frequency", "given", version("frequency"), frequency),
                ],
                provenance=Provenance(source="import", actor="import:bench"),
            )
            if index == 2:
                record_choices(
                    customer=customer,
                    choices=[Choice("channel:push", "withdrawn", version("channel:push"))],
                    provenance=Provenance(source="web", actor="customer"),
                )
        templates.append(customer)
    return templates


def seed(count: int) -> None:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer WHERE external_id LIKE 'bench-%%'")
        have = cursor.fetchone()[0]
    if have >= count:
        return
    call_command("seed_demo", customers=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    templates = template_customers()
    started = time.perf_counter()
    print(f"seeding customers {have + 1:,}..{count:,} (one-off) …", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_customer (external_id, email, phone, name, locale, created_at, link_key) "
            "SELECT 'bench-' || g, 'bench' || g || '@example.com', '+49151' || lpad(g::text, 8, '0'), "
            "'Bench ' || g, 'en', now(), md5(g::text) FROM generate_series(%s, %s) AS g",
            [have + 1, count],
        )
        template_ids = [customer.pk for customer in templates]
        # Each new customer copies template (number mod 3): its choices and its current document.
        cursor.execute(
            "INSERT INTO consent_permissiondocument (customer_id, version, body, derived_from, created_at) "
            "SELECT c.id, 1, d.body, d.derived_from, now() FROM customers_customer c "
            "JOIN consent_snapshot t ON t.customer_id = (%s::bigint[])[1 + substr(c.external_id, 7)::bigint %% 3] "
            "JOIN consent_permissiondocument d ON d.id = t.document_id "
            "LEFT JOIN consent_snapshot s ON s.customer_id = c.id "
            "WHERE c.external_id LIKE 'bench-%%' AND s.customer_id IS NULL",
            [template_ids],
        )
        cursor.execute(
            "INSERT INTO consent_snapshot (customer_id, choices, last_sequence, last_hash, document_id, updated_at) "
            "SELECT c.id, t.choices, 0, %s, d.id, now() FROM customers_customer c "
            "JOIN consent_snapshot t ON t.customer_id = (%s::bigint[])[1 + substr(c.external_id, 7)::bigint %% 3] "
            "JOIN consent_permissiondocument d ON d.customer_id = c.id "
            "LEFT JOIN consent_snapshot s ON s.customer_id = c.id "
            "WHERE c.external_id LIKE 'bench-%%' AND s.customer_id IS NULL",
            ["0" * 64, template_ids],
        )
        # Vacuumed, not only analysed: the first read of a freshly bulk-loaded row writes its hint bits, which
        # made the first rounds over 1M fresh rows measure disk writes rather than reads.
        cursor.execute("VACUUM (ANALYZE) customers_customer, consent_snapshot, consent_permissiondocument")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


# What both sides read: the tables and the indexes their plans use (EXPLAIN: the pkeys and external_id's).
READ_RELATIONS = (
    "customers_customer",
    "customers_customer_pkey",
    "customers_customer_external_id_b1779fc4_like",
    "consent_snapshot",
    "consent_snapshot_pkey",
)


def prewarm() -> None:
    """Read what both sides read into the operating system's cache, as a serving database holds its hot set:
    otherwise rounds of random customers touch pages for the first time and time the disk (a first 10,000-row
    read took 0.9 s here, the same read again 0.2 s). ``pg_prewarm`` ships with PostgreSQL's contrib; without
    it the rounds run cold, and the script says so."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_prewarm'")
        if cursor.fetchone() is None:
            print("pg_prewarm not available: the rounds read cold pages", flush=True)
            return
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        for relation in READ_RELATIONS:
            cursor.execute("SELECT pg_prewarm(%s::regclass, 'read')", [relation])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main():
    seed(args.customers)
    prewarm()
    _, key = api_client_create(name=f"bench-{int(time.time())}", scopes=["permissions:read", "links:write"])
    settings.API_RATE_LIMIT = "100000/min"
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM customers_customer WHERE external_id LIKE 'bench-%%'")
        low, high = cursor.fetchone()
    kinds = [
        ("email", "new-arrivals"),
        ("sms", "sales-and-offers"),
        ("push", "back-in-stock"),
        ("email", "order-updates"),
    ]
    rng = random.Random(14)

    def batch(size):
        ids = rng.sample(range(low, high + 1), size)
        return ids, [f"bench-{pk - low + 1}" for pk in ids]

    def post(url, body):
        started = time.perf_counter()
        response = client.post(url, json.dumps(body), content_type="application/json")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:500]
        return elapsed, response

    timings = {"decisions": [], "bare": [], "short": [], "links": []}
    reasons = {}
    for round_number in range(args.rounds + 1):  # round 0 warms caches and is not counted
        ids, external_ids = batch(args.batch)
        items = [
            {"external_id": external_id, "channel": channel, "topic": topic}
            for external_id, (channel, topic) in zip(
                external_ids, (rng.choice(kinds) for _ in ids), strict=True
            )
        ]
        decided, response = post("/api/v1/decisions", {"decisions": items})
        bare, bare_response = post("/bench/bare", {"ids": ids})
        assert len(bare_response.json()["rows"]) == len(ids)
        short, _ = post("/bench/bare?short", {"ids": ids})
        _, link_ids = batch(args.links)
        links, _ = post(
            "/api/v1/links", {"recipients": [{"external_id": e, "topic": "new-arrivals"} for e in link_ids]}
        )
        if round_number:
            timings["decisions"].append(decided * 1000)
            timings["bare"].append(bare * 1000)
            timings["short"].append(short * 1000)
            timings["links"].append(links * 1000)
            for answer in response.json()["decisions"]:
                reasons[answer["reason"]] = reasons.get(answer["reason"], 0) + 1

    print(f"{args.customers:,} customers, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    for name, label in [
        ("decisions", f"POST /api/v1/decisions, {args.batch:,} items"),
        ("bare", f"bare view, {args.batch:,} rows by id = ANY"),
        ("short", "the same, answering only the ids"),
        ("links", f"POST /api/v1/links, {args.links:,} recipients"),
    ]:
        values = timings[name]
        print(
            f"  {label:45} median {statistics.median(values):7.1f} ms   p95 {percentile(values, 0.95):7.1f} ms"
        )
    for name in ("bare", "short"):
        ratio = statistics.median(timings[name]) / statistics.median(timings["decisions"])
        print(f"  ratio {name}/decisions (medians): {ratio:.2f}")
    print(f"  answers: {', '.join(f'{reason} {count:,}' for reason, count in sorted(reasons.items()))}")


if __name__ == "__main__":
    main()
