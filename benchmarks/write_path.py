"""One customer change through the write path, against a bare single-row INSERT + COMMIT.

Both run through the same Django connection to PostgreSQL, interleaved in rounds so that machine noise hits
both alike. The baseline is one transaction holding one INSERT (BEGIN, INSERT, COMMIT: what the smallest
transactional write costs); the write path's transaction locks the customer, reads the snapshot, appends the
event, writes the permission document and its outbox row and updates the snapshot. For reference it also
prints an INSERT in autocommit mode (no transaction block at all).
Prints changes per second, inserts per second, and their ratio (target: at least 1/3).

    make benchmarks          # or: DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor python benchmarks/write_path.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# The write path alone: the delivery side's after-commit fast path is measured by benchmarks/push.py.
os.environ["CONSENT_ON_OUTBOX_COMMIT"] = ""
from bench_database import sized, use_bench_database

use_bench_database("_bench")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from apps.catalog.selectors import current_notice_version  # noqa: E402
from apps.consent.rules import Choice, Provenance  # noqa: E402
from apps.consent.services import record_choices  # noqa: E402
from apps.customers.services import customer_upsert, mark_phone_verified  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", sized(5, 1)))
PER_ROUND = int(os.environ.get("PER_ROUND", sized(400, 4)))
CUSTOMERS = sized(200, 2)


def prepare():
    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=1, stdout=open(os.devnull, "w"))  # noqa: SIM115
    customers = [
        customer_upsert(
            external_id=f"bench-{n:04d}", email=f"bench{n}@example.com", phone=f"+4915100{n:05d}"
        )[0]
        for n in range(CUSTOMERS)
    ]
    for customer in customers:  # texts only for a verified number
        mark_phone_verified(customer=customer)
    version = current_notice_version("channel:sms").pk
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare_insert "
            "(id bigserial PRIMARY KEY, customer_id bigint NOT NULL, payload jsonb NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
    return customers, version


INSERT = "INSERT INTO bench_bare_insert (customer_id, payload) VALUES (%s, %s)"


def bare_inserts(count):
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for n in range(count):
            with transaction.atomic():
                cursor.execute(INSERT, [n, '{"state": "given"}'])
    return count / (time.perf_counter() - started)


def autocommit_inserts(count):
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for n in range(count):
            cursor.execute(INSERT, [n, '{"state": "given"}'])
    return count / (time.perf_counter() - started)


def write_path_changes(count, customers, version, round_number):
    started = time.perf_counter()
    for n in range(count):
        customer = customers[n % CUSTOMERS]
        # Alternate so that every change really changes the permission document (new version + outbox row).
        state = "given" if (n // CUSTOMERS + round_number) % 2 == 0 else "withdrawn"
        record_choices(
            customer=customer,
            choices=[Choice(purpose="channel:sms", state=state, notice_version_id=version)],
            provenance=Provenance(source="web", actor="customer"),
            ip_address="198.51.100.7",
            user_agent="benchmark",
        )
    return count / (time.perf_counter() - started)


def main():
    customers, version = prepare()
    connection.ensure_connection()
    write_path_changes(sized(50, 2), customers, version, 1)  # warm-up
    bare_inserts(sized(50, 2))
    ratios, bare_rates, path_rates, autocommit_rates = [], [], [], []
    for round_number in range(ROUNDS):
        bare = bare_inserts(PER_ROUND)
        path = write_path_changes(PER_ROUND, customers, version, round_number)
        autocommit = autocommit_inserts(PER_ROUND)
        bare_rates.append(bare)
        path_rates.append(path)
        autocommit_rates.append(autocommit)
        ratios.append(path / bare)
        print(
            f"round {round_number + 1}: INSERT+COMMIT {bare:6.0f}/s   write path {path:6.0f}/s   "
            f"ratio {path / bare:.2f}   (autocommit INSERT {autocommit:6.0f}/s)"
        )
    print(
        f"write path: median {statistics.median(path_rates):.0f} changes/s; bare INSERT+COMMIT: median "
        f"{statistics.median(bare_rates):.0f}/s; ratio (median of rounds) {statistics.median(ratios):.2f} "
        f"(target >= 0.33); autocommit INSERT median {statistics.median(autocommit_rates):.0f}/s, "
        f"ratio against it {statistics.median(path_rates) / statistics.median(autocommit_rates):.2f}"
    )


if __name__ == "__main__":
    main()
