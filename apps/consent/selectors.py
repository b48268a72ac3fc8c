from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from apps.catalog.models import NoticeVersion
from apps.catalog.selectors import catalog_rules
from apps.customers.models import Customer

from .models import GENESIS_HASH, ConsentEvent, PermissionDocument, Snapshot
from .rules import apply_event, derive_permissions, derived_from, next_expiry


def replay_choices(events, rules=None) -> dict:
    """The snapshot's choices as the given events (in sequence order) make them."""
    rules = rules or catalog_rules()
    choices: dict = {}
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


def current_permission_document(customer: Customer) -> PermissionDocument | None:
    return PermissionDocument.objects.filter(customer=customer).order_by("-version").first()


@dataclass(frozen=True)
class PointInTimeAnswer:
    at: datetime
    body: dict
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
    choices, stopped, customer_id = {}, {}, None
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
