import heapq
import hmac
import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Exists, Max, OuterRef, Q, QuerySet

from apps.catalog.models import NoticeText, NoticeVersion
from apps.catalog.selectors import CatalogRules, catalog_rules
from apps.customers.models import Customer, Inference, ProfileAnswer
from apps.customers.selectors import message_times

from .checkpoints import MerkleRoot, head_leaf, sign, signed_bytes
from .documents import PermissionBody
from .entries import Choices, SnapshotEntry, entries
from .models import GENESIS_HASH, CheckpointHead, ConsentEvent, LedgerCheckpoint, PermissionDocument, Snapshot
from .rules import (
    Decision,
    Reason,
    apply_event,
    customer_timezone,
    decide,
    deciding_purposes,
    denied,
    derive_permissions,
    derived_from,
    next_expiry,
    profile_depth,
    week_start,
)


def replay_choices(events: Iterable[ConsentEvent], rules: CatalogRules | None = None) -> Choices:
    """The snapshot's choices as the given events (in sequence order) make them."""
    rules = rules or catalog_rules()
    choices: Choices = {}
    for event in events:
        apply_event(choices, event, rules)
    return choices


def superseded_consents(*, version: NoticeVersion) -> QuerySet[Snapshot]:
    """The snapshots whose consent to the version's purpose (given, or awaiting confirmation) was given under an
    older version: what ``invalidate_superseded_consents`` invalidates. None unless the version is a published
    material one."""
    if not (version.material and version.is_published):
        return Snapshot.objects.none()
    # Legacy versions (number 0) stand in for the version current when they were entered: only those entered
    # before this one was published are older than it.
    older = NoticeVersion.objects.filter(
        Q(legacy_source="", number__lt=version.number)
        | (~Q(legacy_source="") & Q(published_at__lt=version.published_at)),
        notice_id=version.notice_id,
    )
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


def snapshots_awaiting_email_confirmation(customer_ids: list[int]) -> QuerySet[Snapshot]:
    return Snapshot.objects.filter(
        customer_id__in=customer_ids,
        customer__erased_at__isnull=True,
        **{"choices__channel:email__state": ConsentEvent.State.REQUESTED},
    ).select_related("customer")


def current_permission_document(customer: Customer) -> PermissionDocument | None:
    return PermissionDocument.objects.filter(customer=customer).order_by("-version").first()


@dataclass(frozen=True)
class PointInTimeAnswer:
    at: datetime
    body: PermissionBody
    derived_from: list[int]


def permission_document_at(customer: Customer, at: datetime) -> PointInTimeAnswer:
    """What this customer's permissions were at ``at``, worked out from the ledger alone.

    Each event counts from when it took effect (its captured time, if it was captured before it was recorded),
    so an import answers for the years before it. Notice currency and time-boxed expiry are judged as of
    ``at``; the catalog's channels and topics are today's (a topic that no longer exists is not reported).
    """
    took_effect = Q(captured_at__lte=at) | Q(captured_at__isnull=True, recorded_at__lte=at)
    events = ConsentEvent.objects.filter(took_effect, customer=customer).order_by("sequence")
    rules = catalog_rules()
    choices = replay_choices(events, rules)
    return PointInTimeAnswer(
        at=at, body=derive_permissions(choices, rules, at), derived_from=derived_from(choices)
    )


def replayed_snapshot_fields(customer_id: int) -> dict[str, Any]:
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

    def __str__(self) -> str:
        return f"customer {self.customer_id}, sequence {self.sequence}: {self.problem}"


def ledger_breaks(customer_ids: Collection[int] | None = None) -> Iterator[LedgerBreak]:
    """Every break, by customer: in a chain itself, or against the heads checkpoints anchored (a removed tail)."""
    return heapq.merge(
        chain_breaks(customer_ids),
        checkpoint_breaks(customer_ids),
        key=lambda found: (found.customer_id, found.sequence),
    )


def chain_breaks(customer_ids: Collection[int] | None = None) -> Iterator[LedgerBreak]:
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


def first_rewound_head() -> Snapshot | None:
    """The first customer whose chain's head is behind a head a checkpoint anchored."""
    behind = CheckpointHead.objects.filter(
        customer_id=OuterRef("customer_id"), sequence__gt=OuterRef("last_sequence")
    )
    return (
        Snapshot.objects.filter(Exists(behind))
        .only("customer_id", "last_sequence")
        .order_by("customer_id")
        .first()
    )


def latest_checkpoint() -> LedgerCheckpoint | None:
    return LedgerCheckpoint.objects.order_by("-id").first()


def anchored_heads(checkpoint: LedgerCheckpoint) -> Iterator[tuple[int, int, str]]:
    """Every head as ``checkpoint`` found it, by customer: each chain's furthest head anchored up to it (heads
    only move forward; a checkpoint refuses to anchor one that went back)."""
    heads = (
        CheckpointHead.objects.filter(checkpoint_id__lte=checkpoint.pk)
        .order_by("customer_id", "-sequence")
        .values_list("customer_id", "sequence", "hash")
    )
    last = None
    for customer_id, sequence, hash_ in heads.iterator(chunk_size=5000):
        if customer_id != last:
            last = customer_id
            yield customer_id, sequence, hash_


def checkpoint_problem(checkpoint: LedgerCheckpoint) -> str | None:
    """Why the checkpoint itself cannot be trusted (its signature, or heads that no longer give its root)."""
    message = signed_bytes(
        taken_at=checkpoint.taken_at,
        customers=checkpoint.customers,
        events=checkpoint.events,
        root=checkpoint.root,
    )
    if not hmac.compare_digest(sign(message, settings.LEDGER_CHECKPOINT_KEY), checkpoint.signature):
        return (
            f"checkpoint {checkpoint.pk}: the signature does not verify (the row was altered, or "
            "LEDGER_CHECKPOINT_KEY is not the key it was signed with)"
        )
    tree, events = MerkleRoot(), 0
    for head in anchored_heads(checkpoint):
        tree.add(head_leaf(*head))
        events += head[1]
    if (tree.hexdigest(), tree.leaves, events) != (checkpoint.root, checkpoint.customers, checkpoint.events):
        return (
            f"checkpoint {checkpoint.pk}: the stored heads no longer give its signed root (heads were altered, "
            "or a chain had no snapshot when it was taken)"
        )
    return None


def checkpoint_breaks(customer_ids: Collection[int] | None = None) -> Iterator[LedgerBreak]:
    """Every chain head a checkpoint ever anchored must still be in the ledger, with the hash it had: yields the
    first missing or changed one of each customer."""
    still_there = ConsentEvent.objects.filter(
        customer_id=OuterRef("customer_id"), sequence=OuterRef("sequence"), hash=OuterRef("hash")
    )
    heads = CheckpointHead.objects.filter(~Exists(still_there)).order_by("customer_id", "sequence")
    if customer_ids is not None:
        heads = heads.filter(customer_id__in=customer_ids)
    reported = None
    for head in heads.iterator():
        if head.customer_id == reported:
            continue
        reported = head.customer_id
        last = ConsentEvent.objects.filter(customer_id=head.customer_id).aggregate(last=Max("sequence"))[
            "last"
        ]
        anchored = f"checkpoint {head.checkpoint_id} anchored its head at sequence {head.sequence}"
        if last is None:
            problem = f"the chain is gone, but {anchored}"
        elif last < head.sequence:
            problem = f"the chain ends at sequence {last}, but {anchored}: its newest events were removed"
        else:
            problem = f"the event no longer has the hash {anchored} with: the chain was rewritten"
        yield LedgerBreak(customer_id=head.customer_id, sequence=head.sequence, problem=problem)


def checkpoint_export(checkpoint: LedgerCheckpoint, *, heads: bool = False) -> dict[str, Any]:
    """The checkpoint as JSON for safekeeping elsewhere; with ``heads``, everything to recompute its root."""
    exported = {
        "checkpoint": checkpoint.pk,
        "taken_at": checkpoint.taken_at.isoformat(),
        "customers": checkpoint.customers,
        "events": checkpoint.events,
        "root": checkpoint.root,
        "signature": checkpoint.signature,
        "signature_algorithm": "HMAC-SHA256 over the canonical JSON of taken_at, customers, events and root",
        "tree": "RFC 6962 Merkle tree hash; one leaf per chain, '<customer id>:<sequence>:<hash>', by customer id",
    }
    if heads:
        exported["heads"] = [
            {"customer": customer_id, "sequence": sequence, "hash": hash_}
            for customer_id, sequence, hash_ in anchored_heads(checkpoint)
        ]
    return exported


# --- decisions for senders, and why ---------------------------------------------------------------------------

# The customer field that holds the address a channel needs; Candor keeps no address for the other channels
# (the sender has the device token or the postal address), so they are always reachable from here.
ADDRESS_FIELDS = {"email": "email", "sms": "phone", "phone": "phone"}


def reachable(
    channel: str, at: datetime, email: str, phone: str, email_undeliverable_at: datetime | None
) -> bool:
    """Candor holds an address for the channel, and (for email) no bounce or clean-up has flagged it since
    before ``at``: the flag the permission document shows as ``undeliverable_since``."""
    address = ADDRESS_FIELDS.get(channel)
    if address is None:
        return True
    if address == "email" and email_undeliverable_at is not None and email_undeliverable_at <= at:
        return False
    return bool(email if address == "email" else phone)


class DecisionRequest(NamedTuple):
    """One message a sender asks about (a named tuple: a batch holds 10,000)."""

    external_id: str
    channel: str
    topic: str
    at: datetime
    digest: bool = False


def decisions(requests: list[DecisionRequest]) -> list[Decision]:
    """One decision per request, in order, from the customers' current choices (two or three queries in all),
    without its steps: a batch answers allow, reason and until, and ``explain_decision`` shows the steps.

    The choices are today's: ``at`` is meant as now or later (a send time). What was allowed at an earlier
    time comes from the ledger: ``explain_decision``.
    """
    rules = catalog_rules()
    found = _asked_customers(requests)
    capped = {
        customer.id: customer_timezone(customer.choices)
        for customer in found
        if customer is not None
        and (frequency := SnapshotEntry.of(customer.choices, "frequency"))
        and frequency.value_of("weekly_cap")
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
    for request, customer in zip(requests, found, strict=True):
        if customer is None:
            answers.append(denied(Reason.UNKNOWN))
            continue
        if customer.erased_at is not None:
            answers.append(denied(Reason.ERASED))
            continue
        sent_this_week = 0
        if customer.id in sent:
            start = week_start(request.at, capped[customer.id])
            sent_this_week = sum(start <= time < request.at for time in sent[customer.id])
        answers.append(
            decide(
                customer.choices,
                rules,
                channel=request.channel,
                topic=request.topic,
                at=request.at,
                sent_this_week=sent_this_week,
                reachable=reachable(
                    request.channel,
                    request.at,
                    customer.email,
                    customer.phone,
                    customer.email_undeliverable_at,
                ),
                digest=request.digest,
            )._replace(steps=())  # 70,000 steps kept to the end of a batch made the collector sweep them
        )
    return answers


class AskedCustomer(NamedTuple):
    """What one decision reads about its customer: the address fields, and of the snapshot only the entries
    ``decide`` rests on (``deciding_purposes``)."""

    id: int
    email: str
    phone: str
    email_undeliverable_at: datetime | None
    erased_at: datetime | None
    choices: Choices


# Per request, in the request's order, only the three snapshot entries a decision reads (``->`` on the jsonb):
# a snapshot holds every purpose, and decoding all of them cost more than the rules. The requests go in as JSON
# arrays and the rows come back as one JSON array, each parsed in one call: psycopg quoted a 10,000-element
# array parameter element by element, and reading 10,000 rows cell by cell and decoding each entry on its own
# took longer than the query ran.
_ASKED_CUSTOMERS = (
    "SELECT json_agg(json_build_array(q.i, c.id, c.email, c.phone, c.email_undeliverable_at, c.erased_at, "
    "s.choices -> q.channel, s.choices -> q.topic, s.choices -> 'frequency'))::text "
    "FROM ROWS FROM (json_array_elements_text(%s::json), json_array_elements_text(%s::json), "
    "json_array_elements_text(%s::json)) WITH ORDINALITY AS q(external_id, channel, topic, i) "
    "JOIN customers_customer c ON c.external_id = q.external_id "
    "LEFT JOIN consent_snapshot s ON s.customer_id = c.id"
)


def _asked_customers(requests: list[DecisionRequest]) -> list[AskedCustomer | None]:
    """Per request, its customer with the snapshot entries its decision reads; None for an unknown customer."""
    purposes = [deciding_purposes(request.channel, request.topic) for request in requests]
    found: list[AskedCustomer | None] = [None] * len(requests)
    if connection.vendor != "postgresql":
        rows = Customer.objects.filter(
            external_id__in={request.external_id for request in requests}
        ).values_list(
            "external_id",
            "id",
            "email",
            "phone",
            "email_undeliverable_at",
            "erased_at",
            "consent_snapshot__choices",
        )
        by_external_id = {row[0]: row[1:] for row in rows}
        for index, request in enumerate(requests):
            if (row := by_external_id.get(request.external_id)) is not None:
                customer_id, email, phone, undeliverable_at, erased_at, choices = row
                found[index] = AskedCustomer(
                    customer_id,
                    email,
                    phone,
                    undeliverable_at,
                    erased_at,
                    {key: choices[key] for key in purposes[index] if choices and choices.get(key)},
                )
        return found
    with connection.cursor() as cursor:
        cursor.execute(
            _ASKED_CUSTOMERS,
            [
                json.dumps([request.external_id for request in requests]),
                json.dumps([channel for channel, _, _ in purposes]),
                json.dumps([topic for _, topic, _ in purposes]),
            ],
        )
        (rows,) = cursor.fetchone()
    for number, customer_id, email, phone, undeliverable_at, erased_at, *held in json.loads(rows or "[]"):
        found[number - 1] = AskedCustomer(
            customer_id,
            email,
            phone,
            _json_time(undeliverable_at),
            _json_time(erased_at),
            {key: entry for key, entry in zip(purposes[number - 1], held, strict=True) if entry is not None},
        )
    return found


def _json_time(value: str | None) -> datetime | None:
    """A timestamp as PostgreSQL writes it in JSON (ISO 8601 with its offset)."""
    return datetime.fromisoformat(value) if value is not None else None


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
    wording: dict[int, dict[str, Any]]  # event id -> the notice text it pins
    chain: list[ConsentEvent]


def explain_decision(customer: Customer, *, channel: str, topic: str, at: datetime) -> Explanation:
    """Why the decision for this customer, channel, topic and instant is what it is, from the ledger alone."""
    rules = catalog_rules()
    # Events count from when they took effect, as in ``permission_document_at``; the chain runs from the first
    # event to the last one that counts, so every hash on the way can be recomputed.
    ledger = list(ConsentEvent.objects.filter(customer=customer).order_by("sequence"))
    counted = [event for event in ledger if event.effective_at <= at]
    last = counted[-1].sequence if counted else 0
    chain = [event for event in ledger if event.sequence <= last]
    choices = replay_choices(counted, rules)
    if customer.erased_at is not None and customer.erased_at <= at:
        decision = denied(Reason.ERASED)
    else:
        tz = customer_timezone(choices)
        sent = message_times(
            [customer.pk],
            since=week_start(at, tz),
            until=at,
            exclude_topics=[slug for slug, topic in rules.topics.items() if topic.required],
        )
        decision = decide(
            choices,
            rules,
            channel=channel,
            topic=topic,
            at=at,
            sent_this_week=len(sent.get(customer.pk, [])),
            reachable=reachable(channel, at, customer.email, customer.phone, customer.email_undeliverable_at),
        )
    # The event each purpose's choice rests on (not a later one kept as history only).
    by_id = {event.pk: event for event in counted}
    by_purpose = {purpose: by_id[entry.event] for purpose, entry in entries(choices).items()}
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


def _wording(events: list[ConsentEvent]) -> dict[int, dict[str, Any]]:
    """Per event id, the notice text it pins, in the language it was recorded in (English if that is missing)."""
    texts: dict[int, dict[str, NoticeText]] = {}
    for text in NoticeText.objects.filter(version_id__in={event.notice_version_id for event in events}):
        texts.setdefault(text.version_id, {})[text.language] = text
    versions = NoticeVersion.objects.in_bulk({event.notice_version_id for event in events})
    wording = {}
    for event in events:
        languages = texts.get(event.notice_version_id, {})
        shown = languages.get(event.language) or languages.get("en")
        if shown is not None:
            version = versions[event.notice_version_id]
            wording[event.pk] = {
                "notice_version": version.pk,
                "number": version.number,
                "language": shown.language,
                "text_hash": version.text_hash,
                **{field: getattr(shown, field) for field in NoticeText.WORDING_FIELDS},
            }
    return wording


# Actors whose change is the customer's own explicit action: themselves, a provider reporting what they did
# there (START, a resubscribe), or staff recording what they asked for.
EXPLICIT_ACTOR_PREFIXES = ("customer", "inbound:", "staff:")


@dataclass(frozen=True)
class Resubscription:
    customer_id: int
    external_id: str
    purpose: str
    withdrawn_sequence: int
    event: ConsentEvent

    @property
    def explicit(self) -> bool:
        return self.event.actor.startswith(EXPLICIT_ACTOR_PREFIXES)


def resubscriptions(*, since: datetime) -> Iterator[Resubscription]:
    """Every purpose that went from withdrawn (or refused) to given since ``since``, with the event that did it,
    replayed by the ledger's own rules (a history-only event changes nothing). Per customer, in sequence order."""
    rules = catalog_rules()
    State = ConsentEvent.State
    customers = (
        ConsentEvent.objects.filter(recorded_at__gte=since, state=State.GIVEN)
        .values_list("customer_id", flat=True)
        .distinct()
    )
    events = (
        ConsentEvent.objects.filter(customer_id__in=customers)
        .select_related("customer")
        .order_by("customer_id", "sequence")
    )
    choices: Choices = {}
    stopped: dict[str, int] = {}
    customer_id = None
    for event in events.iterator(chunk_size=2000):
        if event.customer_id != customer_id:
            choices, stopped, customer_id = {}, {}, event.customer_id
        if not apply_event(choices, event, rules):
            continue
        if event.state in (State.WITHDRAWN, State.REFUSED):
            stopped[event.purpose] = event.sequence
        elif event.state == State.GIVEN:
            if event.purpose in stopped and event.recorded_at >= since:
                yield Resubscription(
                    event.customer_id,
                    event.customer.external_id,
                    event.purpose,
                    stopped[event.purpose],
                    event,
                )
            stopped.pop(event.purpose, None)


def shareable_profile(customer_id: int, body: PermissionBody) -> dict[str, Any]:
    """The customer's profile as a destination configured with ``profile`` receives it with this document: the
    whole of what it may hold, so an answer sent as null and an inference no longer listed it deletes.

    At the least personalization depth nothing; from "what I tell you" the answers the document shares, of
    questions that may be sent downstream; from "what I do" also the inferences the customer has not removed.
    """
    rules = catalog_rules()
    answers_allowed, inferences_allowed = profile_depth(body.get("personalization"), rules)
    profile = body.get("profile")
    shared = list(profile["answers"]) if profile else []
    # Every question that may go downstream is named, null when there is nothing to send: a deletion.
    answers = {code: None for code, question in rules.questions.items() if question.may_send_downstream}
    if answers_allowed and shared:
        for question, answer in ProfileAnswer.objects.filter(
            customer_id=customer_id, question__in=shared
        ).values_list("question", "answer"):
            if question in answers:
                answers[question] = answer
    inferences = []
    if inferences_allowed:
        inferences = [
            {"code": code, "label": label, "source": source, "purpose": purpose}
            for code, label, source, purpose in Inference.objects.filter(
                customer_id=customer_id, removed_at__isnull=True
            )
            .order_by("code")
            .values_list("code", "label", "source", "purpose")
        ]
    return {"depth": body.get("personalization"), "answers": answers, "inferences": inferences}
