"""The support console's customer search on a large customer table, against a bare indexed SELECT by primary key.

Seeds ``--customers`` customers (default one million) into ``<DATABASE_URL's name>_search_bench`` with
``generate_series`` (kept between runs when the count matches), then times, interleaved in rounds so machine
noise hits all alike:
  - the bare baseline: ``SELECT … FROM customers_customer WHERE id = %s`` on the same connection;
  - ``apps.support.selectors.search_customers`` for each kind of query (exact email, phone, external id; part of
    a name; part of an email; a fragment that matches nothing);
  - the whole search page (``GET /support/?q=…`` through Django's test client as a signed-in agent: gate,
    query, access-log row, template) for the same queries.
Prints medians and 95th percentiles in milliseconds and each one's ratio to the baseline. No verdicts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor python benchmarks/search.py --customers 1000000
"""

import argparse
import os
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
parser.add_argument("--rounds", type=int, default=sized(5, 1))
parser.add_argument(
    "--per-round", type=int, default=sized(40, 1), help="timed calls per query kind per round"
)
args = parser.parse_args()

use_bench_database("_search_bench")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from bench_timing import p95, timed  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from apps.support.selectors import search_customers  # noqa: E402
from tests.support.conftest import add_totp, sign_in  # noqa: E402

FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Tim",
    "Radia",
    "Ken",
    "Frances",
    "John",
    "Sophie",
    "Lena",
    "Jonas",
    "Mia",
    "Noah",
    "Emma",
    "Lukas",
    "Hannah",
]
LAST = [
    "Smith",
    "Müller",
    "Schmidt",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Schulz",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
]


def seed(count: int) -> None:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        if cursor.fetchone()[0] == count:
            return
        print(f"seeding {count:,} customers …", flush=True)
        started = time.perf_counter()
        # The benchmark's own database: the ledger's append-only triggers are bypassed to empty it.
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("TRUNCATE customers_customer CASCADE")
        cursor.execute("COMMIT")
        cursor.execute(
            """
            INSERT INTO customers_customer (external_id, email, phone, name, locale, created_at, link_key)
            SELECT 'cust-' || n,
                   lower(f.v || '.' || l.v || n || '@example.com'),
                   '+49151' || lpad(n::text, 8, '0'),
                   f.v || ' ' || l.v || ' ' || (n %% 9973),
                   'en', now(), md5(n::text)
            FROM generate_series(1, %s) AS n
            CROSS JOIN LATERAL (SELECT (%s::text[])[1 + n %% 20] AS v) f
            CROSS JOIN LATERAL (SELECT (%s::text[])[1 + (n / 20) %% 20] AS v) l
            """,
            [count, FIRST, LAST],
        )
        # One customer with a rare name, as a support agent would look for.
        cursor.execute(
            "UPDATE customers_customer SET name = 'Ada Lovelace', email = 'ada.lovelace@example.org' "
            "WHERE external_id = %s",
            [f"cust-{count // 2}"],
        )
        cursor.execute("ANALYZE customers_customer")
        print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


def agent_client() -> Client:
    user, created = get_user_model().objects.get_or_create(
        username="bench-agent", defaults={"is_staff": True, "email": "bench-agent@staff.example"}
    )
    user.groups.add(Group.objects.get(name="Support agent"))
    if created:
        add_totp(user)
    return sign_in(Client(), user)


def main():
    seed(args.customers)
    middle = args.customers // 2
    queries = {
        "exact email": "ada.lovelace@example.org",
        "exact phone": f"+49 151 {middle + 1:08d}",
        "external id": f"cust-{middle + 7}",
        "part of a rare name": "lovelace",
        "part of a common name": "müller",
        "part of an email": "lovelace@exa",
        "no match": "zzqqxx",
    }
    client = agent_client()
    ids = list(range(1, args.customers + 1, max(1, args.customers // 997)))

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, external_id, email, phone, name FROM customers_customer WHERE id = %s",
                [ids[int(time.perf_counter_ns()) % len(ids)]],
            )
            cursor.fetchall()

    found = {name: len(search_customers(query).customers) for name, query in queries.items()}
    for _ in range(3):  # warm-up
        baseline()
        for query in queries.values():
            search_customers(query)
            client.get("/support/", {"q": query})
    results = {"bare SELECT by primary key": []}
    results.update({f"selector: {name}": [] for name in queries})
    results.update({f"page: {name}": [] for name in queries})
    for _ in range(args.rounds):
        results["bare SELECT by primary key"] += timed(baseline, args.per_round)
        for name, query in queries.items():
            results[f"selector: {name}"] += timed(lambda q=query: search_customers(q), args.per_round)
            results[f"page: {name}"] += timed(
                lambda q=query: client.get("/support/", {"q": q}), args.per_round
            )
    base = statistics.median(results["bare SELECT by primary key"])
    print(f"\n{args.customers:,} customers; {args.rounds} rounds x {args.per_round} calls per line")
    print(f"{'':44} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11} {'rows':>5}")
    for name, values in results.items():
        kind = name.split(": ", 1)[-1]
        rows = found.get(kind, "")
        print(
            f"{name:44} {statistics.median(values):10.2f} {p95(values):8.2f} "
            f"{statistics.median(values) / base:11.1f} {rows!s:>5}"
        )


if __name__ == "__main__":
    main()
