"""What the console reads: search, a customer at a glance, the consent timeline, proof and access exports.

Reads only; the staff access log is written by ``services.record_staff_access``.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model, Q
from django.utils import timezone

from apps.catalog.models import Notice, NoticeText, translated
from apps.catalog.selectors import catalog_rules
from apps.consent.entries import SnapshotEntry, entries
from apps.consent.models import ConsentEvent, InboundReport, PermissionDocument, Snapshot
from apps.consent.rules import is_in_force
from apps.consent.selectors import ledger_breaks
from apps.customers.models import Customer, Exposure, HeldMessage, MessageRecord
from apps.customers.selectors import ERASED, evidence_note_texts
from apps.delivery.models import Delivery, DeliveryCursor, Destination
from apps.delivery.selectors import RevocationProgress, revocation_progress

from .models import StaffAccess

PAGE_SIZE = 25
# A trigram index answers a part of a name or an email from three characters on.
MIN_PARTIAL_LENGTH = 3
PHONE_NOISE = re.compile(r"[\s\-().\/]")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
STATE_LABELS = dict(ConsentEvent.State.choices)
SOURCE_LABELS = dict(ConsentEvent.Source.choices)


# --- the admin's pages ------------------------------------------------------------------------------------------


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


# --- search ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchPage:
    query: str
    customers: list
    next_after: int | None
    too_short: bool = False


def normalized_phone(text: str) -> str | None:
    """``+49 151 1234-5678`` or ``0049…`` as stored (E.164), or ``None`` if it is not a phone number."""
    compact = PHONE_NOISE.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if PHONE.match(compact) else None


def search_customers(query: str, *, after: int | None = None, limit: int = PAGE_SIZE) -> SearchPage:
    """Customers whose email, phone or external id is the query; failing that, whose name or email contains it.

    Exact matches come first and alone (each a b-tree lookup); only without one does the search look for a part
    of a name or an email (trigram indexes on PostgreSQL). Paged by id (``after`` the last id shown), never by
    OFFSET, so a late page costs what the first costs.
    """
    query = query.strip()
    if not query:
        return SearchPage(query=query, customers=[], next_after=None)
    exact = Q(external_id=query) | Q(email=query.lower())
    phone = normalized_phone(query)
    if phone:
        exact |= Q(phone=phone)
    partial = len(query) >= MIN_PARTIAL_LENGTH
    found = Customer.objects.filter(exact)
    if partial and not found.exists():
        found = Customer.objects.filter(Q(name__icontains=query) | Q(email__icontains=query))
    rows = _page(found, after, limit)
    return SearchPage(
        query=query,
        customers=rows[:limit],
        next_after=rows[limit - 1].pk if len(rows) > limit else None,
        too_short=not partial and not rows,
    )


def _page(found, after: int | None, limit: int) -> list:
    if after:
        found = found.filter(pk__gt=after)
    fields = ("pk", "external_id", "email", "phone", "name", "erased_at")
    return list(found.order_by("pk").only(*fields)[: limit + 1])


# --- labels and wording ---------------------------------------------------------------------------------------


def purpose_titles(language: str = "en") -> dict[str, str]:
    return {
        purpose: translated(title, language)
        for purpose, title in Notice.objects.values_list("purpose", "title")
    }


def wording_for(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], NoticeText | None]:
    """The notice text shown for each (notice version id, language), falling back to English."""
    version_ids = {version for version, _ in pairs}
    texts = {
        (text.version_id, text.language): text
        for text in NoticeText.objects.filter(version_id__in=version_ids).select_related("version__notice")
    }
    return {
        (version, language): texts.get((version, language)) or texts.get((version, "en"))
        for version, language in pairs
    }


def actor_labels(actors: set[str]) -> dict[str, str]:
    """``staff:12`` as the agent's name, the other kinds of actor as they are."""
    staff_ids = {int(actor.split(":", 1)[1]) for actor in actors if re.fullmatch(r"staff:\d+", actor)}
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=staff_ids)}
    labels = {}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind == "staff" and ident.isdigit() and int(ident) in users:
            user = users[int(ident)]
            labels[actor] = f"Agent {user.get_full_name() or user.get_username()} (staff #{user.pk})"
        elif kind == "api":
            labels[actor] = f"API client {ident}"
        elif kind == "import":
            labels[actor] = f"Import batch {ident}"
        else:
            labels[actor] = actor.capitalize()
    return labels


def describe_value(value) -> str:
    """A choice's value in one line: ``channels: email, sms · frequency: weekly``."""
    if not value:
        return ""
    parts = []
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, list):
            item = ", ".join(str(part) for part in item)
        elif isinstance(item, dict):
            item = ", ".join(f"{k} {v}" for k, v in item.items())
        parts.append(f"{key.replace('_', ' ')}: {item}")
    return " · ".join(parts)


# --- a customer at a glance -----------------------------------------------------------------------------------


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


# --- the consent timeline -------------------------------------------------------------------------------------


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


# --- proof of consent (shaped on ISO/IEC TS 27560) ------------------------------------------------------------

PROOF_SCHEMA = (
    "candor-consent-record/1 (shaped on ISO/IEC TS 27560:2023 consent record information structure)"
)


def controller() -> dict:
    return getattr(
        settings,
        "CONSENT_RECEIPT_CONTROLLER",
        {
            "name": settings.DEFAULT_FROM_EMAIL.partition("@")[2] or "Candor",
            "contact": "Data Protection Officer",
        },
    )


def consent_proof(customer: Customer, *, purpose: str = "") -> dict:
    """A consent record for the customer (or one purpose): the notices shown, every event with its chain hash
    and the exact fields the hash covers, and whether the customer's chain verifies.

    The principal is named by the surrogate key only, so the proof works the same after an erasure.
    """
    events = list(
        ConsentEvent.objects.filter(customer=customer)
        .select_related("notice_version__notice")
        .order_by("sequence")
    )
    chosen = [event for event in events if not purpose or event.purpose == purpose]
    breaks = list(ledger_breaks(customer_ids=[customer.pk]))
    versions = {event.notice_version for event in chosen}
    texts: dict[int, dict[str, dict[str, str]]] = {}
    for text in NoticeText.objects.filter(version__in=versions):
        texts.setdefault(text.version_id, {})[text.language] = {
            field_name: getattr(text, field_name) for field_name in NoticeText.TEXT_FIELDS
        }
    titles = purpose_titles()
    notes = evidence_note_texts(event.evidence.get("note_id") for event in chosen)
    now = timezone.now()
    purposes = sorted({event.purpose for event in chosen})
    snapshot = Snapshot.objects.filter(customer=customer).first()
    held = entries(snapshot.choices) if snapshot else {}
    rules = catalog_rules()
    return {
        "schema_version": PROOF_SCHEMA,
        "record_id": f"candor:customer:{customer.pk}:{purpose or 'all'}:{now.strftime('%Y%m%dT%H%M%S%fZ')}",
        "generated_at": now.isoformat(),
        "pii_principal_id": f"candor:customer:{customer.pk}",
        "pii_principal_erased_at": customer.erased_at.isoformat() if customer.erased_at else None,
        "pii_controllers": [controller()],
        "processing": [
            {
                "purpose_id": item,
                "purpose": titles.get(item, item),
                "lawful_basis": "consent (GDPR art. 6(1)(a))",
                "current_state": entry.state if (entry := held.get(item)) else None,
                "in_force": is_in_force(held.get(item), item, rules, now),
            }
            for item in purposes
        ],
        "notices": [
            {
                "notice_id": version.notice.purpose,
                "notice_version": version.number,
                "notice_version_id": version.pk,
                "legacy_source": version.legacy_source or None,
                "material_change": version.material,
                "published_at": version.published_at.isoformat() if version.published_at else None,
                "notice_hash": version.text_hash,
                "notice_content": texts.get(version.pk, {}),
            }
            for version in sorted(versions, key=lambda v: (v.notice.purpose, v.number))
        ],
        "events": [_proof_event(event, notes) for event in chosen],
        "inbound_revocations": [
            _proof_revocation(item, now)
            for item in {id(p): p for p in customer_revocations(customer).values()}.values()
            if not purpose or any(event.pk in item.report.ledger_events for event in chosen)
        ],
        "ledger": {
            "hash_algorithm": "SHA-256 over the canonical JSON in each event's 'canonical' (docs/ledger.md)",
            "events_in_chain": len(events),
            "chain_head": events[-1].hash if events else None,
            "verifies": not breaks,
            "first_break": str(breaks[0]) if breaks else None,
        },
    }


def _proof_event(event: ConsentEvent, notes: dict[int, str]) -> dict:
    """One event as proof. A note is shown from the erasable table beside the evidence that references it by
    id and keyed hash (``[erased]`` after erasure); the hash covers only the reference, so the chain verifies."""
    proof = {
        "event_id": event.pk,
        "event_time": event.effective_at.isoformat(),  # when the choice took effect: captured, else recorded
        "recorded_at": event.recorded_at.isoformat(),
        "captured_at": event.captured_at.isoformat() if event.captured_at else None,
        "event_type": f"consent {event.state}",
        "event_state": event.state,
        "event_by": event.actor,
        "event_method": event.source,
        "purpose_id": event.purpose,
        "notice_version_id": event.notice_version_id,
        "language": event.language,
        "value": event.value,
        "expires_at": event.expires_at.isoformat() if event.expires_at else None,
        "evidence": event.evidence,
        "sequence": event.sequence,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "canonical": json.loads(event.canonical_bytes()),
    }
    if "note_id" in event.evidence:
        proof["note"] = notes.get(event.evidence["note_id"], ERASED)
    return proof


def _proof_revocation(item: RevocationProgress, now) -> dict:
    report = item.report
    done = item.all_acknowledged_at
    return {
        "inbound_source": report.source_name,
        "provider": report.provider,
        "provider_event_id": report.event_id,
        "provider_event": report.kind,
        "channel": report.channel,
        "occurred_at": report.occurred_at.isoformat(),
        "received_at": report.received_at.isoformat(),
        "recorded_at": report.recorded_at.isoformat(),
        "deadline_at": report.deadline_at.isoformat() if report.deadline_at else None,
        "event_ids": report.ledger_events,
        "permission_document_version": item.version,
        "acknowledged_by": [
            {
                "destination": ack.destination,
                "at": ack.acknowledged_at.isoformat() if ack.acknowledged_at else None,
            }
            for ack in item.acknowledgements
        ],
        "all_acknowledged_at": done.isoformat() if done else None,
        "past_deadline": item.past_deadline(now),
    }


# --- the review queue: texts staff must read, revocations past their deadline ---------------------------------

REVIEW_LOOKBACK_DAYS = 60


@dataclass(frozen=True)
class ReviewQueue:
    messages: list[HeldMessage]
    overdue: list[RevocationProgress]


def review_queue(*, now: datetime | None = None) -> ReviewQueue:
    """Open held messages, soonest deadline first, and recorded revocations some destination has not
    acknowledged by their deadline (received within ``REVIEW_LOOKBACK_DAYS``)."""
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


# --- data-subject access: everything held ---------------------------------------------------------------------


def everything_held(customer: Customer) -> dict:
    """One document with every row Candor holds about the customer (for a data-subject access request)."""
    snapshot = Snapshot.objects.filter(customer=customer).first()
    events = list(ConsentEvent.objects.filter(customer=customer).order_by("sequence"))
    notes = evidence_note_texts(event.evidence.get("note_id") for event in events)
    return {
        "generated_at": timezone.now().isoformat(),
        "controller": controller(),
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
        "consent_events": [_proof_event(event, notes) for event in events],
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


# --- the staff access log -------------------------------------------------------------------------------------


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


# --- delivery status for one customer -------------------------------------------------------------------------


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
