from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import QuerySet

from apps.catalog.models import NoticeText, NoticeVersion
from apps.catalog.selectors import catalog_rules
from apps.customers.models import Customer
from apps.customers.selectors import message_times

from .models import GENESIS_HASH, ConsentEvent, PermissionDocument, Snapshot
from .rules import (
    Decision,
    Reason,
    apply_event,
    customer_timezone,
    decide,
    denied,
    derive_permissions,
    derived_from,
    next_expiry,
    week_start,
)


def replay_choices(events) -> dict:
    """The snapshot's choices as the given events (in sequence order) make them."""
    choices: dict = {}
    for event in events:
        apply_event(choices, event)
    return choices


def superseded_consents(*, version: NoticeVersion) -> QuerySet[Snapshot]:
    """The snapshots whose consent to the version's purpose (given, or awaiting confirmation) was given under an
    older version: what ``invalidate_superseded_consents`` invalidates. None unless the version is a published
    material one."""
    if not (version.material and version.is_published):
        return Snapshot.objects.none()
    older = NoticeVersion.objects.filter(notice_id=version.notice_id, number__lt=version.number)
    purpose = version.notice.purpose
    return Snapshot.objects.filter(
        **{
            f"choices__{purpose}__state__in": [ConsentEvent.State.GIVEN, ConsentEvent.State.REQUESTED],
            f"choices__{purpose}__notice_version__in": list(older.values_list("id", flat=True)),
        }
    )


def newest_material_versions() -> list[NoticeVersion]:
    """Per notice, its newest published material version: its ``superseded_consents`` take in every older one's."""
    newest: dict[int, NoticeVersion] = {}
    material = NoticeVersion.objects.filter(material=True, published_at__isnull=False).select_related(
        "notice"
    )
    for version in material.order_by("notice_id", "number"):
        newest[version.notice_id] = version
    return list(newest.values())


def current_permission_document(customer: Customer) -> PermissionDocument | None:
    return PermissionDocument.objects.filter(customer=customer).order_by("-version").first()


@dataclass(frozen=True)
class PointInTimeAnswer:
    at: datetime
    body: dict
    derived_from: list[int]


def permission_document_at(customer: Customer, at: datetime) -> PointInTimeAnswer:
    """What this customer's permissions were at ``at``, worked out from the ledger alone.

    Notice currency and time-boxed expiry are judged as of ``at``; the catalog's channels and topics are
    today's (a topic that no longer exists is not reported).
    """
    events = ConsentEvent.objects.filter(customer=customer, recorded_at__lte=at).order_by("sequence")
    choices = replay_choices(events)
    return PointInTimeAnswer(
        at=at, body=derive_permissions(choices, catalog_rules(), at), derived_from=derived_from(choices)
    )


def replayed_snapshot_fields(customer_id: int) -> dict:
    """The snapshot fields a replay of this customer's ledger produces (what ``rebuild_snapshots`` writes)."""
    events = list(ConsentEvent.objects.filter(customer_id=customer_id).order_by("sequence"))
    choices = replay_choices(events)
    return {
        "choices": choices,
        "last_sequence": events[-1].sequence if events else 0,
        "last_hash": events[-1].hash if events else GENESIS_HASH,
        "next_expiry_at": next_expiry(choices),
    }


@dataclass(frozen=True)
class LedgerBreak:
    customer_id: int
    sequence: int
    problem: str

    def __str__(self):
        return f"customer {self.customer_id}, sequence {self.sequence}: {self.problem}"


def ledger_breaks(customer_ids=None) -> Iterator[LedgerBreak]:
    """Walk every chain in order and yield the first break of each customer whose chain does not verify."""
    events = ConsentEvent.objects.order_by("customer_id", "sequence")
    if customer_ids is not None:
        events = events.filter(customer_id__in=customer_ids)
    customer_id, expected_sequence, expected_prev, broken = None, 1, GENESIS_HASH, False
    for event in events.iterator(chunk_size=2000):
        if event.customer_id != customer_id:
            customer_id, expected_sequence, expected_prev, broken = event.customer_id, 1, GENESIS_HASH, False
        if broken:
            continue
        problem = None
        if event.sequence != expected_sequence:
            problem = f"expected sequence {expected_sequence}, found {event.sequence} (a gap or a reordering)"
        elif event.prev_hash != expected_prev:
            problem = "previous-hash does not match the event before it"
        elif event.compute_hash() != event.hash:
            problem = "the row's content no longer matches its hash (it was altered)"
        if problem:
            broken = True
            yield LedgerBreak(customer_id=event.customer_id, sequence=event.sequence, problem=problem)
        expected_sequence, expected_prev = event.sequence + 1, event.hash


# --- decisions for senders, and why ---------------------------------------------------------------------------

# The customer field that holds the address a channel needs; Candor keeps no address for the other channels
# (the sender has the device token or the postal address), so they are always reachable from here.
ADDRESS_FIELDS = {"email": "email", "sms": "phone", "phone": "phone"}


@dataclass(frozen=True)
class DecisionRequest:
    external_id: str
    channel: str
    topic: str
    at: datetime
    digest: bool = False


def decisions(requests: list[DecisionRequest]) -> list[Decision]:
    """One decision per request, in order, from the customers' current choices (two or three queries in all).

    The choices are today's: ``at`` is meant as now or later (a send time). What was allowed at an earlier
    time comes from the ledger: ``explain_decision``.
    """
    rules = catalog_rules()
    customers = _customers_and_choices({request.external_id for request in requests})
    capped = {
        customer_id: customer_timezone(choices)
        for customer_id, _, _, _, choices in customers.values()
        if choices and ((choices.get("frequency") or {}).get("value") or {}).get("weekly_cap")
    }
    sent = {}
    if capped:
        times = [request.at for request in requests]
        sent = message_times(
            capped,
            since=min(times) - timedelta(days=8),
            until=max(times),
            exclude_topics=[slug for slug, topic in rules.topics.items() if topic.required],
        )
    answers = []
    for request in requests:
        customer = customers.get(request.external_id)
        if customer is None:
            answers.append(denied(Reason.UNKNOWN))
            continue
        customer_id, email, phone, erased_at, choices = customer
        if erased_at is not None:
            answers.append(denied(Reason.ERASED))
            continue
        sent_this_week = 0
        if customer_id in sent:
            start = week_start(request.at, capped[customer_id])
            sent_this_week = sum(start <= time < request.at for time in sent[customer_id])
        address = ADDRESS_FIELDS.get(request.channel)
        answers.append(
            decide(
                choices or {},
                rules,
                channel=request.channel,
                topic=request.topic,
                at=request.at,
                sent_this_week=sent_this_week,
                reachable=address is None or bool({"email": email, "phone": phone}[address]),
                digest=request.digest,
            )
        )
    return answers


# One array parameter instead of an IN list of 10,000 placeholders, which psycopg spent longer composing than
# PostgreSQL spent answering.
_CUSTOMERS_AND_CHOICES = (
    "SELECT c.external_id, c.id, c.email, c.phone, c.erased_at, s.choices FROM customers_customer c "
    "LEFT JOIN consent_snapshot s ON s.customer_id = c.id WHERE c.external_id = ANY(%s)"
)


def _customers_and_choices(external_ids: set[str]) -> dict[str, tuple]:
    """Per external id: surrogate id, email, phone, erased_at and the snapshot's choices (None if none)."""
    if connection.vendor != "postgresql":
        rows = Customer.objects.filter(external_id__in=external_ids).values_list(
            "external_id", "id", "email", "phone", "erased_at", "consent_snapshot__choices"
        )
        return {row[0]: row[1:] for row in rows}
    choices_field = Snapshot._meta.get_field("choices")
    with connection.cursor() as cursor:
        cursor.execute(_CUSTOMERS_AND_CHOICES, [list(external_ids)])
        return {
            external_id: (pk, email, phone, erased_at, choices_field.from_db_value(choices, None, connection))
            for external_id, pk, email, phone, erased_at, choices in cursor.fetchall()
        }


@dataclass(frozen=True)
class Explanation:
    """A decision with what it rests on: the rule steps, the ledger events behind them with the exact wording
    the customer saw, and the customer's hash chain from the first event to the last one used."""

    customer: Customer
    channel: str
    topic: str
    at: datetime
    decision: Decision
    events: list[ConsentEvent]
    wording: dict[int, dict]  # event id -> the notice text it pins
    chain: list[ConsentEvent]


def explain_decision(customer: Customer, *, channel: str, topic: str, at: datetime) -> Explanation:
    """Why the decision for this customer, channel, topic and instant is what it is, from the ledger alone."""
    rules = catalog_rules()
    chain = list(ConsentEvent.objects.filter(customer=customer, recorded_at__lte=at).order_by("sequence"))
    if customer.erased_at is not None and customer.erased_at <= at:
        decision = denied(Reason.ERASED)
    else:
        choices = replay_choices(chain)
        tz = customer_timezone(choices)
        sent = message_times(
            [customer.pk],
            since=week_start(at, tz),
            until=at,
            exclude_topics=[slug for slug, topic in rules.topics.items() if topic.required],
        )
        address = ADDRESS_FIELDS.get(channel)
        decision = decide(
            choices,
            rules,
            channel=channel,
            topic=topic,
            at=at,
            sent_this_week=len(sent.get(customer.pk, [])),
            reachable=address is None or bool(getattr(customer, address)),
        )
    by_purpose = {event.purpose: event for event in chain}
    used = [by_purpose[p] for p in dict.fromkeys(step.purpose for step in decision.steps) if p in by_purpose]
    last = max((event.sequence for event in used), default=0)
    return Explanation(
        customer=customer,
        channel=channel,
        topic=topic,
        at=at,
        decision=decision,
        events=sorted(used, key=lambda event: event.sequence),
        wording=_wording(used),
        chain=[event for event in chain if event.sequence <= last],
    )


def _wording(events: list[ConsentEvent]) -> dict[int, dict]:
    """Per event id, the notice text it pins, in the language it was recorded in (English if that is missing)."""
    texts: dict[int, dict] = {}
    for text in NoticeText.objects.filter(version_id__in={event.notice_version_id for event in events}):
        texts.setdefault(text.version_id, {})[text.language] = text
    versions = NoticeVersion.objects.in_bulk({event.notice_version_id for event in events})
    wording = {}
    for event in events:
        languages = texts.get(event.notice_version_id, {})
        text = languages.get(event.language) or languages.get("en")
        if text is not None:
            version = versions[event.notice_version_id]
            wording[event.pk] = {
                "notice_version": version.pk,
                "number": version.number,
                "language": text.language,
                "text_hash": version.text_hash,
                **{field: getattr(text, field) for field in NoticeText.TEXT_FIELDS},
            }
    return wording
