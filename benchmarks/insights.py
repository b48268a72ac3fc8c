"""The insights page on a large base: the page against a bare ``SELECT count(*)`` over the same tables.

Seeds ``--customers`` customers (default one million), each with a permission document and a snapshot, and
``--events`` ledger events (default ten million) spread over a year, a fifth as many exposures, into
``<DATABASE_URL's name>_insights_bench`` with ``generate_series`` (kept between runs when the counts match; the
ledger's triggers are bypassed for the seeding only). Then:
  - rolls the events and exposures up as Celery beat would (``apps.insights.services.roll_up``, big batches)
    and recounts the shares (``recount_shares``), and prints how long each took and the rows per second;
  - times, interleaved in rounds so machine noise hits all alike, the whole page (``GET /support/insights/``
    through Django's test client as a signed-in Marketing admin: gate, rollup queries, template), the selector
    alone, and the bare baselines ``SELECT count(*) FROM consent_consentevent`` and ``… FROM customers_customer``
    on the same connection.
Prints medians and 95th percentiles in milliseconds and the page's ratio to each baseline. No verdicts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor python benchmarks/insights.py --customers 100000 --events 1000000
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
from bench_database import sized, use_bench_database

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--customers", type=int, default=sized(1_000_000, 100))
parser.add_argument("--events", type=int, default=sized(10_000_000, 1_000))
parser.add_argument("--rounds", type=int, default=sized(5, 1))
parser.add_argument("--per-round", type=int, default=sized(10, 1), help="timed calls of each kind per round")
args = parser.parse_args()

use_bench_database("_insights_bench")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from bench_timing import p95, timed  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.catalog.selectors import catalog_rules, current_notice_version  # noqa: E402
from apps.consent.rules import derive_permissions  # noqa: E402
from apps.insights.models import RollupMark, ShareCount, Tally  # noqa: E402
from apps.insights.selectors import insights  # noqa: E402
from apps.insights.services import recount_shares, roll_up  # noqa: E402
from tests.support.conftest import make_staff, sign_in  # noqa: E402


def bodies() -> list[str]:
    """A handful of different permission documents, as the catalog's rules derive them from choices."""
    rules, now = catalog_rules(), timezone.now()
    channels, topics = (
        list(rules.channels),
        [slug for slug, topic in rules.topics.items() if not topic.required],
    )
    variants = []
    for n in range(12):
        choices = {}
        for index, code in enumerate(channels):
            if (n >> index) & 1:
                choices[f"channel:{code}"] = entry(current_notice_version(f"channel:{code}").pk)
        for index, slug in enumerate(topics):
            if (n + index) % 3:
                chosen = [code for code in rules.topics[slug].channels if f"channel:{code}" in choices]
                choices[f"topic:{slug}"] = entry(
                    current_notice_version(f"topic:{slug}").pk, {"channels": chosen}
                )
        levels = rules.options["location"]
        if n % 4:
            choices["location"] = entry(
                current_notice_version("location").pk, {"level": levels[n % len(levels)]}
            )
        variants.append(json.dumps(derive_permissions(choices, rules, now)))
    return variants


def entry(version_id: int, value=None) -> dict:
    return {
        "state": "given",
        "value": value,
        "notice_version": version_id,
        "event": 0,
        "recorded_at": timezone.now().isoformat(),
        "expires_at": None,
    }


# What the seeded events are: (purpose, state, source, evidence), cycled through.
EVENT_KINDS = [
    ("channel:email", "requested", "web", {"section": "channels"}),
    ("channel:sms", "given", "web", {"section": "channels"}),
    ("channel:push", "refused", "web", {"section": "channels"}),
    ("channel:email", "given", "email_link", {"confirmed": "email address"}),
    ("location", "given", "web", {"section": "location"}),
    ("personalization", "withdrawn", "gpc", {"signal": "Sec-GPC: 1"}),
    ("frequency", "given", "web", {"section": "leave"}),
    ("channel:sms", "withdrawn", "twilio", {}),
    ("channel:email", "withdrawn", "web", {"section": "leave", "reason": "too_many"}),
    ("channel:push", "given", "web", {"section": "reask"}),
]


def seed(customers: int, events: int) -> None:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer WHERE external_id LIKE 'bench-%%'")
        have_customers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM consent_consentevent")
        if have_customers == customers and cursor.fetchone()[0] == events:
            return
    call_command("seed_demo", customers=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    versions = {purpose: current_notice_version(purpose).pk for purpose, *_ in EVENT_KINDS}
    started = time.perf_counter()
    print(f"seeding {customers:,} customers and {events:,} events (one-off) …", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        # The benchmark's own database: the ledger's append-only triggers are bypassed to empty and fill it.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "TRUNCATE customers_customer, consent_consentevent, consent_snapshot, consent_permissiondocument, "
            "customers_exposure, insights_tally, insights_sharecount, insights_rollupmark CASCADE"
        )
        cursor.execute(
            "INSERT INTO customers_customer (external_id, email, phone, name, locale, created_at, link_key) "
            "SELECT 'bench-' || g, '', '', '', CASE WHEN g %% 3 = 0 THEN 'de' ELSE 'en' END, now(), md5(g::text) "
            "FROM generate_series(1, %s) AS g",
            [customers],
        )
        cursor.execute("SELECT min(id) FROM customers_customer")
        first = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO consent_permissiondocument (customer_id, version, body, derived_from, created_at) "
            "SELECT c.id, 1, (%s::jsonb[])[1 + c.id %% %s], '[]'::jsonb, now() - (c.id %% 90) * interval '1 day' "
            "FROM customers_customer c",
            [bodies(), 12],
        )
        cursor.execute(
            "INSERT INTO consent_snapshot (customer_id, choices, last_sequence, last_hash, document_id, updated_at) "
            "SELECT d.customer_id, '{}'::jsonb, 0, %s, d.id, now() FROM consent_permissiondocument d",
            ["0" * 64],
        )
        kinds = len(EVENT_KINDS)
        cursor.execute(
            "INSERT INTO consent_consentevent (customer_id, sequence, purpose, state, value, notice_version_id, "
            "language, source, actor, evidence, recorded_at, prev_hash, hash) "
            "SELECT %s + g %% %s, 1 + g / %s, (%s::text[])[1 + g %% %s], (%s::text[])[1 + g %% %s], "
            '  CASE WHEN g %% %s = 6 THEN \'{"digest": "monthly"}\'::jsonb '
            '       WHEN g %% %s = 4 THEN \'{"level": "city"}\'::jsonb END, '
            "  (%s::int[])[1 + g %% %s], 'en', (%s::text[])[1 + g %% %s], 'customer', (%s::jsonb[])[1 + g %% %s], "
            "  now() - interval '365 days' + g * (interval '365 days' / %s), %s, %s "
            "FROM generate_series(0, %s - 1) AS g",
            [
                first,
                customers,
                customers,
                [kind[0] for kind in EVENT_KINDS],
                kinds,
                [kind[1] for kind in EVENT_KINDS],
                kinds,
                kinds,
                kinds,
                [versions[kind[0]] for kind in EVENT_KINDS],
                kinds,
                [kind[2] for kind in EVENT_KINDS],
                kinds,
                [json.dumps(kind[3]) for kind in EVENT_KINDS],
                kinds,
                events,
                "0" * 64,
                "0" * 64,
                events,
            ],
        )
        cursor.execute(
            "INSERT INTO customers_exposure (customer_id, notice_version_id, surface, shown_at) "
            "SELECT %s + g %% %s, (%s::int[])[1 + g %% %s], (ARRAY['page', 'page', 'page', 'reask', 'leave'])"
            "[1 + g %% 5], now() - interval '365 days' + g * (interval '365 days' / %s) "
            "FROM generate_series(0, %s - 1) AS g",
            [first, customers, list(versions.values()), len(versions), events // 5, events // 5],
        )
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def main():
    seed(args.customers, args.events)
    from django.conf import settings

    # Every run rolls up anew, so that it times it.
    Tally.objects.all().delete()
    RollupMark.objects.all().delete()
    settings.INSIGHTS_BATCH_SIZE = 20_000
    started, counted = time.perf_counter(), {"events": 0, "exposures": 0}
    while True:
        done = roll_up(batches=10)
        counted = {name: counted[name] + done[name] for name in counted}
        if not any(done.values()):
            break
    took = time.perf_counter() - started
    rows = sum(counted.values())
    print(
        f"roll-up of {counted['events']:,} events and {counted['exposures']:,} exposures: {took:.0f} s "
        f"({rows / took:,.0f} rows/s)"
    )
    started = time.perf_counter()
    recounted = recount_shares()
    took = time.perf_counter() - started
    print(f"recount of {recounted:,} customers' shares: {took:.1f} s ({recounted / took:,.0f} customers/s)")
    print(f"rollup rows: {Tally.objects.count():,} tallies, {ShareCount.objects.count():,} share counts")
    staff = get_user_model().objects.filter(username="bench-marketing").first()
    client = sign_in(Client(), staff or make_staff("marketing", username="bench-marketing"))
    response = client.get("/support/insights/")
    assert response.status_code == 200, (response.status_code, response.get("Location"))

    def count(table):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {table}")
                cursor.fetchone()

        return run

    calls = {
        "bare SELECT count(*) FROM consent_consentevent": count("consent_consentevent"),
        "bare SELECT count(*) FROM customers_customer": count("customers_customer"),
        "selector: insights()": lambda: insights(),
        "page: GET /support/insights/": lambda: client.get("/support/insights/"),
    }
    results = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            results[name] += timed(call, args.per_round)
    page = statistics.median(results["page: GET /support/insights/"])
    print(
        f"\n{args.customers:,} customers, {args.events:,} events; {args.rounds} rounds x {args.per_round} calls"
    )
    print(f"{'':50} {'median ms':>10} {'p95 ms':>10} {'page ÷ this':>12}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:50} {median:10.1f} {p95(times):10.1f} {page / median:12.2f}")


if __name__ == "__main__":
    main()
