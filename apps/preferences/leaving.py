"""Leaving, and the signals that switch things off: RFC 8058 one-click unsubscribe, "unsubscribe from
everything" with doing less offered first, and Global Privacy Control. All through the one write path.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.catalog.purposes import Purpose, channel_purpose, topic_purpose
from apps.catalog.selectors import catalog_rules
from apps.consent.entries import SnapshotEntry
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, State, switch_off_state
from apps.consent.services import Recorded
from apps.customers.models import Exposure
from apps.customers.services import record_exposures

from .selectors import snapshot_choices
from .services import Saved, Source, Visit, record

LEAVE_REASON_LABELS = {
    "too_many": gettext_lazy("Too many messages"),
    "not_relevant": gettext_lazy("Not relevant to me"),
    "never_signed_up": gettext_lazy("I never signed up"),
    "privacy": gettext_lazy("Privacy worries"),
    "other": gettext_lazy("Something else"),
}
LEAVE_REASONS = tuple(LEAVE_REASON_LABELS)


# ---- leaving, and doing less -------------------------------------------------------------------------------


def one_click_unsubscribe(*, visit: Visit, scope: str) -> Recorded | None:
    """RFC 8058: stop the email the link came with, at once. ``scope`` is ``channel:email`` or a topic.

    For an erased customer there is nothing left to stop: the erasure withdrew it all.
    """
    if visit.customer.erased_at:
        return None
    choices = snapshot_choices(visit.customer)
    rules = catalog_rules()
    version = rules.current_version(scope)
    if version is None:
        return None
    entry = SnapshotEntry.of(choices, scope)
    if scope == "channel:email":
        state = switch_off_state(entry)
        choice = Choice(scope, state, version.id) if state else None
    elif (topic := rules.topic_rule(Purpose.parse(scope))) is not None:
        if topic.required or not entry or not entry.is_given or "email" not in entry.channels:
            return None  # required topics are not marketing; nothing else to stop
        rest = [code for code in entry.channels if code != "email"]
        if rest:
            choice = Choice(scope, State.GIVEN, version.id, {**(entry.value or {}), "channels": rest})
        else:
            choice = Choice(scope, State.WITHDRAWN, version.id)
    else:
        return None
    if choice is None:
        return None
    return record(visit, [choice], source=Source.ONE_CLICK_UNSUBSCRIBE, evidence={"list": scope})


def note_offers_shown(*, customer) -> None:
    """Record that the leave page offered doing less: the offers are answered under the frequency notice."""
    version = catalog_rules().current_version("frequency")
    if version is not None:
        record_exposures(
            customer_id=customer.pk,
            notice_version_ids=[version.id],
            surface=Exposure.Surface.LEAVE,
            at=timezone.now(),
        )


def do_less(*, visit: Visit, action: str) -> Saved:
    """The alternatives offered before leaving: a monthly digest, or a pause of 90 days."""
    choices = snapshot_choices(visit.customer)
    raw = choices.get("frequency")
    entry = SnapshotEntry.from_json(raw) if raw else None
    value = dict(entry.given_value or {}) if entry else {}
    rules = catalog_rules()
    value.setdefault("digest", rules.defaults.get("frequency", "weekly"))
    if action == "monthly":
        value["digest"] = "monthly"
    elif action == "pause":
        value["paused_until"] = (timezone.now().date() + timedelta(days=90)).isoformat()
    else:
        raise ValidationError({"action": [_("Unknown choice.")]})
    version = rules.current_version("frequency")
    recorded = record(
        visit, [Choice("frequency", State.GIVEN, version.id, value)], evidence={"section": "leave"}
    )
    return Saved(recorded=recorded, before={"frequency": raw}, purposes=["frequency"])


def unsubscribe_everything(*, visit: Visit, reason: str = "") -> Recorded | None:
    """Switch off every channel and every optional purpose; order updates (required) still reach the customer.

    The reason is one of ``LEAVE_REASONS``, never free text: the ledger is append-only and must hold no
    personal data, and a free-text comment could (it could never be erased).
    """
    rules = catalog_rules()
    choices = snapshot_choices(visit.customer)
    purposes = [channel_purpose(code) for code in rules.channels] + [
        topic_purpose(slug) for slug, topic in rules.topics.items() if not topic.required
    ]
    purposes += ["location", "personalization"]
    result = []
    for purpose in purposes:
        entry = SnapshotEntry.of(choices, purpose)
        if entry and entry.holds:
            version = rules.current_version(purpose)
            result.append(Choice(purpose, State.WITHDRAWN, version.id))
    if not result:
        return None
    evidence = {"section": "leave"}
    if reason in LEAVE_REASONS:
        evidence["reason"] = reason
    return record(visit, result, evidence=evidence)


# ---- Global Privacy Control ---------------------------------------------------------------------------------


def honour_gpc(*, visit: Visit) -> list[str]:
    """Switch off the purposes marked as honouring GPC; returns the purposes switched off now.

    A purpose is switched off once per customer: if the customer later opts in again explicitly on the page,
    that choice is respected even while the browser keeps sending the signal.
    """
    rules = catalog_rules()
    choices = snapshot_choices(visit.customer)
    due = []
    for purpose in sorted(rules.gpc_purposes):
        entry = SnapshotEntry.of(choices, purpose)
        if not entry or not entry.holds:
            continue
        if purpose == "personalization" and entry.value_of("depth") == "none":
            continue
        due.append(purpose)
    if not due:
        return []
    already = set(
        ConsentEvent.objects.filter(customer=visit.customer, source=Source.GPC, purpose__in=due).values_list(
            "purpose", flat=True
        )
    )
    due = [purpose for purpose in due if purpose not in already]
    if not due:
        return []
    recorded = record(
        visit,
        [Choice(purpose, State.WITHDRAWN, rules.current_version(purpose).id) for purpose in due],
        source=Source.GPC,
        evidence={"signal": "Sec-GPC: 1"},
    )
    return [event.purpose for event in recorded.events]
