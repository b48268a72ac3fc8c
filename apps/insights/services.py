"""Keep the insights rollups (models.py): recount who allows what, add up what happened since the last run.

Run by Celery beat (``apps.insights.tasks``); the page reads only the rollups (selectors.py). Nothing here
writes a choice: it reads the ledger, the snapshots' permission documents and the exposures.
"""

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Exists, OuterRef, Q, Subquery, When
from django.utils import timezone

from apps import rollups
from apps.catalog.selectors import catalog_rules
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import State, derive_permissions
from apps.customers.models import Customer, Exposure

from .models import RollupMark, ShareCount

Source = ConsentEvent.Source
INBOUND_SOURCES = frozenset(
    {Source.TWILIO, Source.SENDGRID, Source.POSTMARK, Source.MAILCHIMP, Source.BRAZE, Source.INBOUND_WEBHOOK}
)
# Answers given where the customer read the notice on Candor's own page (a re-ask is counted apart).
DOOR_STATES = (State.GIVEN, State.REQUESTED, State.REFUSED, State.WITHDRAWN)
# Time to confirm a double opt-in, in buckets: (key, upper bound).
CONFIRM_BUCKETS = (
    ("1h", timedelta(hours=1)),
    ("1d", timedelta(days=1)),
    ("7d", timedelta(days=7)),
    ("later", None),
)


def week_of(at: datetime | date) -> date:
    """The Monday (UTC) of the week holding ``at``: every rollup row is kept per week."""
    day = at.astimezone(UTC).date() if isinstance(at, datetime) else at
    return day - timedelta(days=day.weekday())


# --- who allows what ---------------------------------------------------------------------------------------


def measures(body: Mapping[str, Any] | None, default: Mapping[str, Any], today: date) -> list[str]:
    """What one permission document allows, as share measures (docs/insights.md lists them).

    ``default`` is the document of a customer who never chose anything: the catalog's defaults.
    """
    body = body or default
    found = []
    channels = body["channels"]
    for code, entry in channels.items():
        if entry["allowed"]:
            found.append(f"channel:{code}")
            found.extend(f"topic:{slug}:{code}" for slug in entry["topics"])
    found.extend(
        f"topic:{slug}" for slug in sorted({slug for entry in channels.values() for slug in entry["topics"]})
    )
    reachable = [entry for entry in channels.values() if entry["allowed"]]
    if reachable:
        found.append("reachable")
        first = reachable[0]
        found.append(f"frequency:{first['frequency']}")
        found.append(f"cap:{first['weekly_cap']}" if first["weekly_cap"] else "cap:none")
        if first["paused_until"] and date.fromisoformat(first["paused_until"]) >= today:
            found.append("paused")
    found.append(f"location:{body['location']['level']}")
    if body["location"]["level"] != "off":
        found.append("location:any")
    found.append(f"depth:{body['personalization']}")
    return found


def recount_shares(*, now: datetime | None = None) -> int:
    """Count, per language, how many customers allow each thing now, and how many of those who answered or
    changed something in the last ``INSIGHTS_PERIOD_DAYS``; replaces this week's rows. Returns the customers
    counted.

    Reads the permission documents (what each customer's choices allow, kept current by the write path and
    the expiry task), not the ledger; erased customers are left out.
    """
    now = now or timezone.now()
    today, since = now.date(), now - timedelta(days=settings.INSIGHTS_PERIOD_DAYS)
    default = derive_permissions({}, catalog_rules(), now)
    counts: Counter = Counter()
    counted = 0
    rows = (
        Snapshot.objects.filter(customer__erased_at__isnull=True, document__isnull=False)
        .values_list("customer__locale", "document__body", "document__created_at")
        .order_by()
        .iterator(chunk_size=5000)
    )
    for language, body, changed_at in rows:
        populations = ("everyone", "asked") if changed_at >= since else ("everyone",)
        for population in populations:
            counts[(language, population, "customers")] += 1
            for measure in measures(body, default, today):
                counts[(language, population, measure)] += 1
        counted += 1
    # Customers who never chose anything hold the catalog's defaults.
    never = Customer.objects.filter(erased_at__isnull=True, consent_snapshot__document__isnull=True)
    default_measures = measures(None, default, today)
    for language, number in Counter(never.values_list("locale", flat=True).order_by().iterator()).items():
        counts[(language, "everyone", "customers")] += number
        for measure in default_measures:
            counts[(language, "everyone", measure)] += number
        counted += number
    week = week_of(now)
    with transaction.atomic():
        ShareCount.objects.filter(week=week).delete()
        ShareCount.objects.bulk_create(
            ShareCount(week=week, language=language, population=population, measure=measure, customers=number)
            for (language, population, measure), number in counts.items()
        )
    return counted


# --- what happened --------------------------------------------------------------------------------------------


# Django's bulk_create can replace a conflicting row's count but not add to it.
ADD_TALLY = (
    "INSERT INTO insights_tally (week, metric, key, count) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (week, metric, key) DO UPDATE SET count = insights_tally.count + excluded.count"
)


def add_tallies(counts: Counter) -> None:
    """Add ``{(week, metric, key): n}`` to the tallies, in one statement (one row per key, created as needed)."""
    if not counts:
        return
    rows = [(week, metric, key, number) for (week, metric, key), number in counts.items()]
    with connection.cursor() as cursor:
        cursor.executemany(ADD_TALLY, rows)


def tally_events(events: list[dict]) -> Counter:
    """What a batch of ledger events adds to the tallies. Each event comes with what came before it for the same
    customer (``_with_history``): whether the same wording was answered before, the state and time of the
    purpose's previous event, the state and time of the previous event, and whether GPC switched anything off."""
    counts: Counter = Counter()
    for event in events:
        week, state, purpose = week_of(event["recorded_at"]), event["state"], event["purpose"]
        evidence = event["evidence"] or {}
        section = evidence.get("section")
        if event["source"] == Source.WEB and state in DOOR_STATES:
            if section == "reask":
                counts[(week, "reask_answer", f"{event['notice_version_id']}:{state}")] += 1
            elif not event["version_seen"]:
                # The first answer under this wording: how the customer answered when it was shown.
                counts[(week, "answer", f"{event['notice_version_id']}:{state}")] += 1
        if state == State.REQUESTED:
            counts[(week, "doi", f"{purpose}:requested")] += 1
        elif state == State.GIVEN and event["purpose_state"] == State.REQUESTED:
            waited = event["recorded_at"] - event["purpose_at"]
            counts[(week, "doi", f"{purpose}:confirmed")] += 1
            counts[(week, "doi_seconds", purpose)] += int(waited.total_seconds())
            bucket = next(key for key, bound in CONFIRM_BUCKETS if bound is None or waited <= bound)
            counts[(week, "doi_time", bucket)] += 1
        if section == "leave":
            # One "unsubscribe from everything" writes a withdrawal per purpose, all at one time: count it once.
            same_submission = (
                event["last_state"] == State.WITHDRAWN and event["last_at"] == event["recorded_at"]
            )
            if state == State.WITHDRAWN and not same_submission:
                counts[(week, "leave", "everything")] += 1
                counts[(week, "leave_reason", evidence.get("reason") or "none")] += 1
            elif purpose == "frequency" and state == State.GIVEN:
                value = event["value"] or {}
                counts[(week, "leave", "pause" if value.get("paused_until") else "monthly")] += 1
        if event["source"] == Source.ONE_CLICK_UNSUBSCRIBE:
            counts[(week, "leave", "one_click")] += 1
        if event["source"] == Source.GPC:
            counts[(week, "gpc", purpose)] += 1
            if not event["gpc_before"]:
                counts[(week, "gpc_customers", "all")] += 1
        if event["source"] in INBOUND_SOURCES and state == State.WITHDRAWN:
            counts[(week, "inbound", event["source"])] += 1
    return counts


def _with_history(events):
    """Annotate each event with the little it needs of the customer's earlier events, each looked up (by the
    ledger's customer and sequence index) only for the events that need it."""
    earlier = ConsentEvent.objects.filter(
        customer_id=OuterRef("customer_id"), sequence__lt=OuterRef("sequence")
    )
    same_purpose = earlier.filter(purpose=OuterRef("purpose")).order_by("-sequence")
    latest = earlier.order_by("-sequence")
    web, given, leave, gpc = (
        Q(source=Source.WEB),
        Q(state=State.GIVEN),
        Q(evidence__section="leave"),
        Q(source=Source.GPC),
    )
    return events.annotate(
        version_seen=Case(
            When(web, then=Exists(earlier.filter(notice_version_id=OuterRef("notice_version_id")))),
            default=False,
        ),
        purpose_state=Case(When(given, then=Subquery(same_purpose.values("state")[:1]))),
        purpose_at=Case(When(given, then=Subquery(same_purpose.values("recorded_at")[:1]))),
        last_state=Case(When(leave, then=Subquery(latest.values("state")[:1]))),
        last_at=Case(When(leave, then=Subquery(latest.values("recorded_at")[:1]))),
        gpc_before=Case(When(gpc, then=Exists(earlier.filter(source=Source.GPC))), default=False),
    )


def tally_exposures(exposures: list[dict]) -> Counter:
    """What a batch of exposures adds: every showing per version and surface, and each customer the first
    time a version is shown to them (``shown_before``: the same version was shown to them earlier)."""
    counts: Counter = Counter()
    for exposure in exposures:
        week, version = week_of(exposure["shown_at"]), exposure["notice_version_id"]
        counts[(week, "shown", f"{version}:{exposure['surface']}")] += 1
        if not exposure["shown_before"]:
            counts[(week, "shown_customers", str(version))] += 1
    return counts


EVENT_FIELDS = (
    *("id", "purpose", "state", "value", "notice_version_id", "source", "evidence", "recorded_at"),
    *("version_seen", "purpose_state", "purpose_at", "last_state", "last_at", "gpc_before"),
)


def _events():
    return _with_history(ConsentEvent.objects.order_by("id")).values(*EVENT_FIELDS)


def _exposures():
    shown_before = Exposure.objects.filter(
        customer_id=OuterRef("customer_id"),
        notice_version_id=OuterRef("notice_version_id"),
        id__lt=OuterRef("id"),
    )
    return (
        Exposure.objects.annotate(shown_before=Exists(shown_before))
        .order_by("id")
        .values("id", "notice_version_id", "surface", "shown_at", "shown_before")
    )


# name: its rows as a values() queryset in id order, their time field, what a batch of them adds to the tallies
ROLLUPS = {
    "events": rollups.Source(_events, "recorded_at", tally_events),
    "exposures": rollups.Source(_exposures, "shown_at", tally_exposures),
}


def roll_up(*, now: datetime | None = None, batches: int | None = None) -> dict[str, int]:
    """Add what happened since the last run to the tallies (``apps.rollups``: each batch and its mark in one
    transaction under the mark's lock, at most ``batches`` batches of each source a run). Returns rows counted."""
    return rollups.roll_up(RollupMark, ROLLUPS, add_tallies, now=now, batches=batches)
