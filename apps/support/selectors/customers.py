"""What the console reads about customers: the admin's lists, a customer at a glance, the consent timeline,
proof (``apps.consent.records``), the review queue, data-subject access, the staff access log, delivery status."""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Model
from django.utils import timezone

from apps.catalog.models import NoticeText
from apps.catalog.selectors import catalog_rules
from apps.consent import records
from apps.consent.entries import SnapshotEntry
from apps.consent.models import ConsentEvent, InboundReport, PermissionDocument, Snapshot
from apps.consent.rules import is_in_force
from apps.consent.selectors import ledger_breaks
from apps.customers.models import Customer, Exposure, HeldMessage, MessageRecord
from apps.customers.selectors import ERASED, evidence_note_texts, profile_answers_by_id, what_we_know_export
from apps.delivery.models import Delivery, DeliveryCursor, Destination
from apps.delivery.selectors import RevocationProgress, revocation_progress

from ..models import StaffAccess
from .labels import SOURCE_LABELS, STATE_LABELS, actor_labels, describe_value, purpose_titles, wording_for


def customer_lookup(model) -> str | None:
    """The lookup from ``model``'s rows to the customer they are about (one hop at most), or ``None``."""
    if model is Customer:
        return "pk"
    direct = _customer_relation(model)
    if direct:
        return direct
    for relation in _relations(model):
        onward = _customer_relation(relation.related_model) if relation.concrete else None
        if onward:
            return f"{relation.name}__{onward}"
    return None


def _relations(model):
    return [
        relation
        for relation in model._meta.get_fields()
        if (relation.many_to_one or relation.one_to_one) and relation.related_model
    ]


def _customer_relation(model) -> str | None:
    return next((r.name for r in _relations(model) if r.related_model is Customer), None)


def customers_shown(context: dict | None) -> tuple[type | None, list[int]]:
    """The model and the customers an admin page's context shows: a list, one object, or a selection."""
    context = context or {}
    if "cl" in context:
        model, pks = context["cl"].model, [row.pk for row in context["cl"].result_list]
    elif isinstance(context.get("original") or context.get("object"), Model):
        shown = context.get("original") or context.get("object")
        model, pks = type(shown), [shown.pk]
    elif "queryset" in context:  # the confirmation page of an action on the selected rows
        model, pks = context["queryset"].model, list(context["queryset"].values_list("pk", flat=True))
    else:
        return None, []
    lookup = customer_lookup(model)
    if lookup is None:
        return model, []
    if lookup == "pk":
        return model, pks
    found = model._default_manager.filter(pk__in=pks).values_list(lookup, flat=True)
    return model, [pk for pk in found if pk is not None]


@dataclass(frozen=True)
class PurposeRow:
    purpose: str
    title: str
    state: str
    state_label: str
    value_text: str
    in_force: bool
    notice_version: int | None
    recorded_at: str | None
    expires_at: str | None


@dataclass(frozen=True)
class Glance:
    customer: Customer
    rows: list[PurposeRow]
    document: PermissionDocument | None
    paused_until: str | None
    events: int


def customer_glance(customer: Customer) -> Glance:
    rules = catalog_rules()
    snapshot = Snapshot.objects.filter(customer=customer).select_related("document").first()
    choices = snapshot.choices if snapshot else {}
    titles = purpose_titles()
    numbers = {version.id: version.number for version in rules.published.values()}
    now = timezone.now()
    rows = []
    for purpose in rules.purposes():
        entry = SnapshotEntry.of(choices, purpose)
        state = entry.state if entry else ""
        rows.append(
            PurposeRow(
                purpose=purpose,
                title=titles.get(purpose, purpose),
                state=state or "not_asked",
                state_label=STATE_LABELS.get(state, "Not asked yet"),
                value_text=describe_value(entry.value) if entry else "",
                in_force=is_in_force(entry, purpose, rules, now),
                notice_version=numbers.get(entry.notice_version) if entry else None,
                recorded_at=entry.recorded_at if entry else None,
                expires_at=entry.expires_at if entry else None,
            )
        )
    frequency = SnapshotEntry.of(choices, "frequency")
    paused_until = frequency.value_of("paused_until") if frequency and frequency.is_given else None
    if paused_until and date.fromisoformat(paused_until) < now.date():
        paused_until = None
    return Glance(
        customer=customer,
        rows=rows,
        document=snapshot.document if snapshot else None,
        paused_until=paused_until,
        events=snapshot.last_sequence if snapshot else 0,
    )


@dataclass
class TimelineEntry:
    event: ConsentEvent
    title: str
    state_label: str
    source_label: str
    actor_label: str
    value_text: str
    before_state_label: str | None
    before_value_text: str | None
    notice_number: int
    wording: NoticeText | None
    evidence: list[tuple[str, str]] = field(default_factory=list)
    revocation: RevocationProgress | None = None  # a provider reported it: received, acknowledged, deadline


def consent_timeline(customer: Customer, *, purpose: str = "", source: str = "") -> list[TimelineEntry]:
    """Every event, newest first, each with what it changed (old → new) and the exact wording shown.

    "Before" is worked out over the whole chain, so a filter by purpose or source still shows the right old value.
    """
    events = list(
        ConsentEvent.objects.filter(customer=customer).select_related("notice_version").order_by("sequence")
    )
    titles = purpose_titles()
    wording = wording_for({(event.notice_version_id, event.language) for event in events})
    actors = actor_labels({event.actor for event in events})
    notes = evidence_note_texts(event.evidence.get("note_id") for event in events)
    revocations = customer_revocations(customer)
    previous: dict[str, ConsentEvent] = {}
    entries = []
    for event in events:
        before = previous.get(event.purpose)
        previous[event.purpose] = event
        if (purpose and event.purpose != purpose) or (source and event.source != source):
            continue
        entries.append(
            TimelineEntry(
                event=event,
                title=titles.get(event.purpose, event.purpose),
                state_label=STATE_LABELS.get(event.state, event.state),
                source_label=SOURCE_LABELS.get(event.source, event.source),
                actor_label=actors[event.actor],
                value_text=describe_value(event.value),
                before_state_label=STATE_LABELS.get(before.state) if before else None,
                before_value_text=describe_value(before.value) if before else None,
                notice_number=event.notice_version.number,
                wording=wording.get((event.notice_version_id, event.language)),
                evidence=_evidence_lines(event.evidence, notes),
                revocation=revocations.get(event.pk),
            )
        )
    entries.reverse()
    return entries


def _evidence_lines(evidence: dict, notes: dict[int, str]) -> list[tuple[str, str]]:
    """The evidence as label and text; a note by its text from the erasable table (``[erased]`` after erasure)."""
    lines = []
    for key, value in evidence.items():
        if key == "note_id":
            lines.append(("note", notes.get(value, ERASED)))
        elif key != "note_hash":
            lines.append((key.replace("_", " "), value if isinstance(value, str) else json.dumps(value)))
    return lines


def customer_revocations(customer: Customer) -> dict[int, RevocationProgress]:
    """The customer's revocations reported back by providers, by the ledger events they caused."""
    progress = revocation_progress(InboundReport.objects.filter(customer=customer, revocation=True))
    return {event_id: item for item in progress for event_id in item.report.ledger_events}


def timeline_filters(customer: Customer) -> dict:
    """The purposes and sources this customer's ledger has, for the filter menus."""
    events = ConsentEvent.objects.filter(customer=customer)
    titles = purpose_titles()
    purposes = sorted(set(events.values_list("purpose", flat=True)))
    sources = sorted(set(events.values_list("source", flat=True)))
    return {
        "purposes": [(purpose, titles.get(purpose, purpose)) for purpose in purposes],
        "sources": [(source, SOURCE_LABELS.get(source, source)) for source in sources],
    }


def consent_proof(customer: Customer, *, purpose: str = "") -> dict:
    revocations = {id(item): item for item in customer_revocations(customer).values()}.values()
    return records.consent_proof(customer, titles=purpose_titles(), revocations=revocations, purpose=purpose)


REVIEW_LOOKBACK_DAYS = 60


@dataclass(frozen=True)
class ReviewQueue:
    messages: list[HeldMessage]
    overdue: list[RevocationProgress]


def review_queue(*, now: datetime | None = None) -> ReviewQueue:
    """Open held messages, soonest deadline first, and revocations not recorded, or not acknowledged by some
    destination, by their deadline (received within ``REVIEW_LOOKBACK_DAYS``)."""
    now = now or timezone.now()
    reports = InboundReport.objects.filter(
        revocation=True,
        received_at__gte=now - timedelta(days=REVIEW_LOOKBACK_DAYS),
        deadline_at__lt=now,
    ).select_related("customer")
    return ReviewQueue(
        messages=list(HeldMessage.objects.filter(resolved_at=None).select_related("customer")),
        overdue=[item for item in revocation_progress(reports) if item.past_deadline(now)],
    )


def everything_held(customer: Customer) -> dict:
    """One document with every row Candor holds about the customer (for a data-subject access request)."""
    snapshot = Snapshot.objects.filter(customer=customer).first()
    events = list(ConsentEvent.objects.filter(customer=customer).order_by("sequence"))
    notes = evidence_note_texts(event.evidence.get("note_id") for event in events)
    answers = profile_answers_by_id((event.value or {}).get("answer_id") for event in events)
    return {
        "generated_at": timezone.now().isoformat(),
        "controller": records.controller(),
        "customer": {
            "id": customer.pk,
            "external_id": customer.external_id,
            "email": customer.email,
            "phone": customer.phone,
            "name": customer.name,
            "locale": customer.locale,
            "created_at": customer.created_at.isoformat(),
            "erased_at": customer.erased_at.isoformat() if customer.erased_at else None,
        },
        "current_choices": snapshot.choices if snapshot else {},
        "permission_documents": [
            {
                "version": document.version,
                "created_at": document.created_at.isoformat(),
                "body": document.body,
            }
            for document in PermissionDocument.objects.filter(customer=customer).order_by("version")
        ],
        "consent_events": [records.event_record(event, notes, answers) for event in events],
        "what_we_know": what_we_know_export(customer),
        "deliveries": [
            {
                "destination": delivery.destination.name,
                "version": delivery.version,
                "status": delivery.status,
                "created_at": delivery.created_at.isoformat(),
                "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
            }
            for delivery in Delivery.objects.filter(customer=customer)
            .select_related("destination")
            .order_by("id")
        ],
        "messages_received": [
            {
                "sender": record.sender,
                "message_id": record.message_id,
                "channel": record.channel,
                "topic": record.topic,
                "benefit": record.benefit,
                "sent_at": record.sent_at.isoformat(),
            }
            for record in MessageRecord.objects.filter(customer=customer).order_by("sent_at", "id")
        ],
        "notices_shown": [
            {
                "notice_version": exposure.notice_version_id,
                "surface": exposure.surface,
                "shown_at": exposure.shown_at.isoformat(),
            }
            for exposure in Exposure.objects.filter(customer=customer).order_by("shown_at", "id")
        ],
        "staff_access": [
            {"at": access.at.isoformat(), "staff": f"staff:{access.staff_id}", "what": access.what}
            for access in StaffAccess.objects.filter(customer=customer).order_by("at", "id")
        ],
        "held_messages": [
            {
                "channel": message.channel,
                "text": message.body,
                "received_at": message.received_at.isoformat(),
                "resolution": message.resolution or None,
            }
            for message in HeldMessage.objects.filter(customer=customer).order_by("id")
        ],
    }


def staff_access_page(*, before: int | None = None, customer_id: int | None = None, limit: int = 50):
    """The newest log entries (``before`` an id, for the next page); returns ``(entries, next_before)``."""
    entries = StaffAccess.objects.select_related("staff").order_by("-id")
    if customer_id:
        entries = entries.filter(customer_id=customer_id)
    if before:
        entries = entries.filter(id__lt=before)
    rows = list(entries[: limit + 1])
    return rows[:limit], (rows[limit - 1].pk if len(rows) > limit else None)


def ledger_check(customer_ids=None) -> dict:
    breaks = list(ledger_breaks(customer_ids=customer_ids))
    events = ConsentEvent.objects.all()
    if customer_ids:
        events = events.filter(customer_id__in=customer_ids)
    return {"breaks": breaks, "events": events.count(), "checked_at": timezone.now()}


@dataclass(frozen=True)
class DestinationStatus:
    destination: Destination
    delivered_version: int | None
    delivered_at: datetime | None
    latest: Delivery | None
    pending: int
    dead: list


@dataclass(frozen=True)
class DeliveryPanel:
    current_version: int | None
    waiting_for_fan_out: bool
    destinations: list[DestinationStatus]


def customer_deliveries(customer: Customer, *, recent: int = 200) -> DeliveryPanel:
    """Per destination: the version it acknowledged, the newest delivery, what is pending and what died (with
    its error), and whether the newest permission document is still waiting in the outbox."""
    document = (
        PermissionDocument.objects.filter(customer=customer)
        .select_related("outbox_entry")
        .order_by("-version")
        .first()
    )
    entry = getattr(document, "outbox_entry", None) if document else None
    cursors = {cursor.destination_id: cursor for cursor in DeliveryCursor.objects.filter(customer=customer)}
    by_destination: dict[int, list[Delivery]] = {}
    for delivery in Delivery.objects.filter(customer=customer).order_by("-id")[:recent]:
        by_destination.setdefault(delivery.destination_id, []).append(delivery)
    rows = []
    for destination in Destination.objects.order_by("name"):
        deliveries = by_destination.get(destination.pk, [])
        cursor = cursors.get(destination.pk)
        rows.append(
            DestinationStatus(
                destination=destination,
                delivered_version=cursor.delivered_version if cursor and cursor.delivered_version else None,
                delivered_at=cursor.delivered_at if cursor else None,
                latest=deliveries[0] if deliveries else None,
                pending=sum(1 for d in deliveries if d.status == Delivery.Status.PENDING),
                dead=[d for d in deliveries if d.status == Delivery.Status.DEAD],
            )
        )
    return DeliveryPanel(
        current_version=document.version if document else None,
        waiting_for_fan_out=bool(entry and entry.dispatched_at is None),
        destinations=rows,
    )
