"""The pure rules of ``apps/consent/rules.py`` on their own: no database, no HTTP, only Python.

Times the rules the busy paths run for each customer: ``decide`` (a sender's decision, the decisions API runs it
for 10,000 customers a request), ``derive_permissions`` (every change and rebuild), ``validate_choices`` (every
change) and ``apply_event`` (every event folded, every replay), over a fixed mix of snapshots on the catalog the
rules table tests write out by hand (``tests/consent/test_rules_table.py``). Prints CPU microseconds per call
(CPU time: on a shared machine others' processes are not counted), the least and the median of ``--rounds``
rounds, and the ratio of the least to a bare baseline measured in the same run: ``json.loads`` of the same
snapshots (what every reader of a snapshot pays before any rule runs).

    .venv/bin/python benchmarks/rules.py [--rounds 7] [--calls 20000]

``BENCHMARK_SIZE=tiny`` runs a few hundred calls (``make test``); its figures mean nothing.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")

import django

django.setup()

from apps.consent.models import ConsentEvent  # noqa: E402
from apps.consent.rules import Choice, apply_event, decide, derive_permissions, validate_choices  # noqa: E402
from tests.consent.test_rules_table import JAN, NOW, RULES, V1  # noqa: E402

State = ConsentEvent.State


def entry(purpose: str, state: str = State.GIVEN, value: dict | None = None, event: int = 1) -> dict:
    return {
        "state": state,
        "value": value,
        "notice_version": V1[purpose],
        "language": "en",
        "event": event,
        "sequence": event,
        "recorded_at": JAN.isoformat(),
        "expires_at": None,
    }


def snapshots() -> list[dict]:
    """Four customers: everything given, quiet hours and a cap; email only; a withdrawal; never asked."""
    full = {
        "channel:email": entry("channel:email", event=1),
        "channel:sms": entry("channel:sms", event=2),
        "channel:push": entry("channel:push", event=3),
        "topic:news": entry(
            "topic:news", value={"channels": ["email", "push"], "frequency": "daily"}, event=4
        ),
        "topic:offers": entry("topic:offers", value={"channels": ["email", "sms"]}, event=5),
        "frequency": entry(
            "frequency",
            value={
                "digest": "real_time",
                "weekly_cap": 5,
                "paused_until": None,
                "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"},
            },
            event=6,
        ),
        "location": entry("location", value={"level": "city"}, event=7),
        "personalization": entry("personalization", value={"depth": "interests"}, event=8),
    }
    email_only = {
        "channel:email": entry("channel:email", event=1),
        "topic:news": entry("topic:news", value={"channels": ["email"]}, event=2),
    }
    withdrawn = {
        "channel:email": entry("channel:email", State.WITHDRAWN, event=3),
        "topic:offers": entry("topic:offers", State.REFUSED, event=4),
    }
    return [full, email_only, withdrawn, {}]


CHOICES = [
    Choice("channel:email", State.GIVEN, V1["channel:email"]),
    Choice(
        "topic:news", State.GIVEN, V1["topic:news"], {"channels": ["email", "push"], "frequency": "daily"}
    ),
    Choice("frequency", State.GIVEN, V1["frequency"], {"digest": "weekly", "weekly_cap": 3}),
    Choice("location", State.WITHDRAWN, V1["location"]),
]


def event() -> ConsentEvent:
    return ConsentEvent(
        pk=99,
        purpose="topic:offers",
        state=State.GIVEN,
        value={"channels": ["email"]},
        notice_version_id=V1["topic:offers"],
        language="en",
        sequence=99,
        recorded_at=NOW,
    )


def per_call_us(work, calls: int) -> float:
    started = time.process_time()
    work(calls)
    return (time.process_time() - started) / calls * 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    tiny = os.environ.get("BENCHMARK_SIZE") == "tiny"
    parser.add_argument("--rounds", type=int, default=1 if tiny else 7)
    parser.add_argument("--calls", type=int, default=200 if tiny else 20_000)
    args = parser.parse_args()

    raw = [json.dumps(choices) for choices in snapshots()]
    loaded = [json.loads(text) for text in raw]
    asks = [("email", "news"), ("sms", "offers"), ("push", "news"), ("email", "orders")]
    later = NOW + timedelta(hours=1)

    def bare(calls):
        for i in range(calls):
            json.loads(raw[i % 4])

    def decisions(calls):
        for i in range(calls):
            channel, topic = asks[i % 4]
            decide(loaded[(i // 4) % 4], RULES, channel=channel, topic=topic, at=NOW, sent_this_week=i % 7)

    def documents(calls):
        for i in range(calls):
            derive_permissions(loaded[i % 4], RULES, NOW)

    def validations(calls):
        for _ in range(calls):
            validate_choices(CHOICES, RULES, later, "web")

    def folds(calls):
        folded = event()
        for i in range(calls):
            apply_event(dict(loaded[i % 4]), folded, RULES)

    cases = {
        "json.loads (baseline)": bare,
        "decide": decisions,
        "derive_permissions": documents,
        "validate_choices": validations,
        "apply_event": folds,
    }
    for work in cases.values():
        work(max(1, args.calls // 10))  # warm up
    rounds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, work in cases.items():
            rounds[name].append(per_call_us(work, args.calls))
    baseline = min(rounds["json.loads (baseline)"])
    print(
        f"pure rules, {args.calls} calls x {args.rounds} rounds, CPU microseconds per call, least (median):"
    )
    for name, times in rounds.items():
        least = min(times)
        print(
            f"  {name:24} {least:8.2f} us ({statistics.median(times):.2f})  {least / baseline:6.2f}x baseline"
        )


if __name__ == "__main__":
    main()
