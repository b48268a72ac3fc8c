"""Import a generated Mailchimp-shaped audience export through the bulk path, against the same importer writing
row by row through ``record_choices`` (the single-change write path), in the same run on the same database.

The file mixes states as a real audience does (subscribed, most confirmed by double opt-in; unsubscribed with
their earlier opt-in; cleaned; pending) and 20 % of members name interest groups mapped to topics. Each run
imports fresh addresses under a source name of its own, so runs do not see each other's rows.
Prints rows/s and ledger events/s both ways, their ratio (the issue's target: at least 5), the projected time
for 1,000,000 rows (target: under 10 minutes) and the process's peak RSS (target: under 300 MB).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor python benchmarks/import.py --rows 100000
"""

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# The import alone: delivery is measured by benchmarks/push.py; mails would only be printed.
os.environ["CONSENT_ON_OUTBOX_COMMIT"] = ""
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
from bench_database import sized, use_bench_database

use_bench_database("_bench_import")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from apps.catalog.models import NoticeVersion  # noqa: E402
from apps.catalog.selectors import catalog_rules  # noqa: E402
from apps.consent.services import publish_legacy_notice_version  # noqa: E402
from apps.imports.services import import_consents  # noqa: E402

COLUMNS = [
    "Email Address", "First Name", "Last Name", "Interests", "MEMBER_RATING", "Status", "OPTIN_TIME", "OPTIN_IP",
    "CONFIRM_TIME", "CONFIRM_IP", "UNSUB_TIME", "UNSUB_REASON", "CLEAN_TIME", "LAST_CHANGED", "LEID", "TAGS",
]  # fmt: skip
WORDING = {
    "en": {
        "what_we_ask": "Sign up for our newsletter (the old Mailchimp form).",
        "what_you_get": "News and offers.",
        "what_we_do": "Email you about once a week.",
        "what_we_never_do": "Sell or share your address.",
    }
}


def generate(path: Path, rows: int, tag: str, groups: list[str], seed: int) -> None:
    """A Mailchimp-shaped export: 70 % subscribed (80 % of them confirmed), 15 % unsubscribed, 5 % cleaned,
    10 % pending; 20 % name one or two interest groups."""
    rng = random.Random(seed)
    start = datetime(2018, 1, 1, tzinfo=UTC)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n in range(rows):
            optin = start + timedelta(minutes=rng.randrange(3_000_000))
            roll = rng.random()
            status = (
                "subscribed"
                if roll < 0.70
                else "unsubscribed"
                if roll < 0.85
                else "cleaned"
                if roll < 0.90
                else "pending"
            )
            confirmed = status != "pending" and rng.random() < 0.8
            confirm = optin + timedelta(minutes=rng.randrange(1, 600)) if confirmed else None
            later = optin + timedelta(days=rng.randrange(1, 900))
            interests = ", ".join(rng.sample(groups, rng.randint(1, 2))) if rng.random() < 0.2 else ""
            writer.writerow(
                [
                    f"member{n}.{tag}@example.com",
                    f"First{n}",
                    f"Last{n}",
                    interests,
                    rng.randint(1, 5),
                    status,
                    f"{optin:%Y-%m-%d %H:%M:%S}",
                    f"198.51.{n % 250}.{n % 200 + 1}",
                    f"{confirm:%Y-%m-%d %H:%M:%S}" if confirm else "",
                    f"203.0.{n % 250}.{n % 200 + 1}" if confirm else "",
                    f"{later:%Y-%m-%d %H:%M:%S}" if status == "unsubscribed" else "",
                    "Too many emails" if status == "unsubscribed" else "",
                    f"{later:%Y-%m-%d %H:%M:%S}" if status == "cleaned" else "",
                    f"{later:%Y-%m-%d %H:%M:%S}",
                    f"{tag}{n}",
                    "",
                ]
            )


def prepare(tag: str) -> tuple[str, str, list[str]]:
    call_command("migrate", verbosity=0)
    if not NoticeVersion.objects.filter(legacy_source="").exists():
        call_command("seed_demo", customers=1, stdout=open(os.devnull, "w"))  # noqa: SIM115
    rules = catalog_rules()
    topics = [
        slug for slug, topic in rules.topics.items() if not topic.required and "email" in topic.channels
    ][:3]
    sources = []
    for suffix in ("bulk", "single"):
        source = f"bench-{tag}-{suffix}"
        for purpose in ["channel:email", *(f"topic:{slug}" for slug in topics)]:
            publish_legacy_notice_version(purpose=purpose, source=source, texts=WORDING)
        sources.append(source)
    return sources[0], sources[1], topics


def timed_import(path: Path, source: str, map_path: Path, bulk: bool, batch_size: int):
    started = time.perf_counter()
    summary = import_consents(
        path=str(path),
        fmt="mailchimp",
        source=source,
        map_path=str(map_path),
        bulk=bulk,
        batch_size=batch_size,
    )
    return summary, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=sized(100_000, 20), help="rows imported through the bulk path"
    )
    parser.add_argument(
        "--baseline-rows", type=int, default=sized(3_000, 10), help="rows imported row by row"
    )
    parser.add_argument("--batch-size", type=int, default=sized(1000, 10))
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    tag = f"{int(time.time())}"
    bulk_source, single_source, topics = prepare(tag)
    groups = [f"Group {slug}" for slug in topics]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        map_path = scratch / "topics.toml"
        map_path.write_text(
            'columns = ["Interests"]\n[topics]\n' + "".join(f'"Group {slug}" = "{slug}"\n' for slug in topics)
        )
        single_file, bulk_file = scratch / "single.csv", scratch / "bulk.csv"
        generate(single_file, args.baseline_rows, f"{tag}s", groups, args.seed)
        generate(bulk_file, args.rows, f"{tag}b", groups, args.seed + 1)

        single, single_seconds = timed_import(single_file, single_source, map_path, False, args.batch_size)
        bulk, bulk_seconds = timed_import(bulk_file, bulk_source, map_path, True, args.batch_size)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    single_rate, bulk_rate = single.rows / single_seconds, bulk.rows / bulk_seconds
    single_events = sum(single.events.values()) / single_seconds
    bulk_events = sum(bulk.events.values()) / bulk_seconds
    print(f"row by row (record_choices): {single.rows} rows in {single_seconds:.1f} s: {single_rate:,.0f} rows/s, "
          f"{single_events:,.0f} events/s")  # fmt: skip
    print(f"bulk path:                   {bulk.rows} rows in {bulk_seconds:.1f} s: {bulk_rate:,.0f} rows/s, "
          f"{bulk_events:,.0f} events/s")  # fmt: skip
    print(f"bulk summary: {bulk.as_dict()}")
    print(
        f"ratio bulk / row by row: {bulk_rate / single_rate:.1f}x rows/s (target >= 5); "
        f"1,000,000 rows at this rate: {1_000_000 / bulk_rate / 60:.1f} min (target < 10); "
        f"peak RSS {peak_rss_mb:.0f} MB (target < 300)"
    )


if __name__ == "__main__":
    main()
