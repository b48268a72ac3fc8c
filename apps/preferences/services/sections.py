"""A page section posts all its controls (with htmx on every change, without JavaScript on "Save"); here the
posted form becomes the list of choices that differ from the customer's snapshot, each pinned to the notice
version that was on screen (the form carries it as ``nv:<purpose>``). Unchanged purposes are not recorded
again, so the ledger holds what the customer actually changed. Asked-again purposes and undo are answered here too."""

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.catalog.purposes import Purpose, channel_purpose, profile_purpose, topic_purpose
from apps.catalog.selectors import CatalogRules, catalog_rules
from apps.consent.entries import SnapshotEntry
from apps.consent.rules import SMS, Choice, State, switch_off_state
from apps.consent.services import answer_text, evidence_hash, remove_customer_inference

from ..selectors import (
    LOCATION_DAYS,
    PAUSE_DAYS,
    current_notices,
    is_on,
    needs_reask,
    snapshot_choices,
)
from ..selectors import reasks as open_reasks
from .sms_verification import start_sms_verification
from .visits import Saved, Visit, _saved, _shown_version, record

SECTIONS = ("channels", "topics", "frequency", "location", "personalization", "profile", "known")


def section_of(purpose: str) -> str:
    """The page section that shows ``purpose``."""
    return {"channel": "channels", "topic": "topics"}.get(Purpose.parse(purpose).kind, purpose)


def section_choices(section: str, data, choices: dict, rules: CatalogRules, now: datetime) -> list[Choice]:
    """The choices a posted section asks for, against ``choices`` (the snapshot's) as they stand."""
    build = {
        "channels": _channel_choices,
        "topics": _topic_choices,
        "frequency": _frequency_choices,
        "location": _location_choices,
        "personalization": _personalization_choices,
        "profile": _profile_choices,
    }.get(section)
    if build is None:
        raise ValidationError({"section": [_("Unknown section.")]})
    return build(data, choices, rules, now)


def _channel_choices(data, choices, rules, now) -> list[Choice]:
    # A channel waiting for its confirmation is carried as a hidden field; "drop" is its Cancel button.
    wanted = set(data.getlist("channel")) - set(data.getlist("drop"))
    result = []
    for code in rules.channels:
        purpose = channel_purpose(code)
        entry = SnapshotEntry.of(choices, purpose)
        on = is_on(entry) and not needs_reask(purpose, entry, rules, now)
        if code in wanted and not on:
            result.append(Choice(purpose, State.GIVEN, _shown_version(data, purpose, rules)))
        elif code not in wanted and on:
            result.append(Choice(purpose, State.WITHDRAWN, _shown_version(data, purpose, rules)))
    return result


def _topic_choices(data, choices, rules, now) -> list[Choice]:
    result = []
    frequencies = rules.options.get("frequency", ())
    for slug, topic in rules.topics.items():
        purpose = topic_purpose(slug)
        if topic.required or f"nv:{purpose}" not in data:
            continue  # shown locked; or not on this form
        entry = SnapshotEntry.of(choices, purpose)
        wanted = [code for code in rules.channels if code in set(data.getlist(purpose)) & topic.channels]
        frequency = data.get(f"frequency:{purpose}", "")
        current = entry.given_value if entry else None
        if needs_reask(purpose, entry, rules, now):
            current = None
        if wanted:
            value = {"channels": wanted}
            if frequency in frequencies:
                value["frequency"] = frequency
            if value != current:
                result.append(Choice(purpose, State.GIVEN, _shown_version(data, purpose, rules), value))
        elif current is not None:
            result.append(Choice(purpose, State.WITHDRAWN, _shown_version(data, purpose, rules)))
    return result


def _frequency_choices(data, choices, rules, now) -> list[Choice]:
    entry = SnapshotEntry.of(choices, "frequency")
    current = entry.given_value if entry else None
    value: dict = {"digest": data.get("digest", "")}
    cap = data.get("weekly_cap", "").strip()
    if cap:
        if not cap.isdigit():
            raise ValidationError({"frequency": [_("The weekly limit must be a whole number.")]})
        value["weekly_cap"] = int(cap)
    pause = data.get("pause", "")
    if pause == "keep" and current and current.get("paused_until"):
        value["paused_until"] = current["paused_until"]
    elif pause.isdigit() and int(pause) in PAUSE_DAYS:
        value["paused_until"] = (now.date() + timedelta(days=int(pause))).isoformat()
    elif pause == "until":
        try:
            until = date.fromisoformat(data.get("paused_until", ""))
        except ValueError:
            raise ValidationError({"frequency": [_("Choose the date the pause ends.")]}) from None
        if until <= now.date():
            raise ValidationError({"frequency": [_("The pause must end in the future.")]})
        value["paused_until"] = until.isoformat()
    start, end = data.get("quiet_start", "").strip(), data.get("quiet_end", "").strip()
    if start or end:
        if not (start and end):
            raise ValidationError({"frequency": [_("Quiet hours need both a start and an end.")]})
        value["quiet_hours"] = {"start": start, "end": end, "timezone": data.get("quiet_timezone", "")}
    if value == current and not needs_reask("frequency", entry, rules, now):
        return []
    return [Choice("frequency", State.GIVEN, _shown_version(data, "frequency", rules), value)]


def _location_choices(data, choices, rules, now) -> list[Choice]:
    entry = SnapshotEntry.of(choices, "location")
    level = data.get("level", "off")
    days = data.get("location_days", "")
    current = entry.value_of("level") if entry and entry.is_given else "off"
    if needs_reask("location", entry, rules, now):
        current = "off"
    if level == "off":
        state = switch_off_state(entry) if current != "off" or entry is None else None
        return [Choice("location", state, _shown_version(data, "location", rules))] if state else []
    current_end = entry.expiry if entry and current != "off" else None
    if days.isdigit() and int(days) in LOCATION_DAYS:
        expires_at = now + timedelta(days=int(days))
    else:
        expires_at = current_end  # "keep the current end" (or none, if sharing was not time-boxed)
    if level == current and expires_at == current_end:
        return []
    return [
        Choice("location", State.GIVEN, _shown_version(data, "location", rules), {"level": level}, expires_at)
    ]


def _personalization_choices(data, choices, rules, now) -> list[Choice]:
    entry = SnapshotEntry.of(choices, "personalization")
    depth = data.get("depth", "none")
    current = entry.value_of("depth") if entry and entry.is_given else "none"
    if needs_reask("personalization", entry, rules, now):
        current = "none"
    if depth == current and entry is not None:
        return []
    if depth == "none":
        state = switch_off_state(entry)
        return (
            [Choice("personalization", state, _shown_version(data, "personalization", rules))]
            if state
            else []
        )
    return [
        Choice(
            "personalization", State.GIVEN, _shown_version(data, "personalization", rules), {"depth": depth}
        )
    ]


def _profile_choices(data, choices, rules, now) -> list[Choice]:
    """ "What you tell us": each question's posted options as its answer (pinned to the version shown), no
    option or its "forget this" button to forget it. Every answer is optional; a question not on the page
    (``nv:`` missing) is left alone."""
    forget = set(data.getlist("forget"))
    result = []
    for question in rules.questions:
        purpose = profile_purpose(question)
        if f"nv:{purpose}" not in data:
            continue
        entry = SnapshotEntry.of(choices, purpose)
        # The snapshot holds the answer's keyed hash: enough to tell whether it changed, without reading it.
        held = entry.value_of("answer_hash") if entry and entry.is_given else None
        answer = [] if question in forget else [code for code in data.getlist(purpose) if code]
        if answer and evidence_hash(answer_text(answer)) != held:
            result.append(
                Choice(purpose, State.GIVEN, _shown_version(data, purpose, rules), {"answer": answer})
            )
        elif not answer and held:
            result.append(Choice(purpose, State.WITHDRAWN, _shown_version(data, purpose, rules)))
    return result


def remove_inference(*, visit: Visit, code: str, removal: str) -> bool:
    """The customer's "this is wrong" / "don't use this" for something the brand inferred."""
    return remove_customer_inference(customer=visit.customer, code=code, removal=removal)


def save_section(*, visit: Visit, section: str, data, rules: CatalogRules | None = None) -> Saved:
    """Record what changed in one section. Raises ``ValidationError`` keyed by purpose; nothing is then written."""
    rules = rules or catalog_rules()
    now = timezone.now()
    # Read without a lock: the write path locks, re-reads and validates; at worst an answer is recorded twice.
    before = snapshot_choices(visit.customer)
    choices = section_choices(section, data, before, rules, now)
    saved = Saved()
    if section == "channels":
        sms = next((c for c in choices if c.purpose == SMS and c.state == State.GIVEN), None)
        if sms and visit.customer.phone_verified_at is None:
            choices.remove(sms)
            saved.sms_sent_to = start_sms_verification(visit=visit, notice_version_id=sms.notice_version_id)
            saved.sms_code_sent = True
    if not choices:
        return saved
    recorded = record(visit, choices, evidence={"section": section})
    # A forgotten answer is gone: there is nothing to undo it with.
    return _saved(visit, recorded, None if section == "profile" else before, saved)


def answer_reask(*, visit: Visit, purpose: str, answer: str, data) -> Saved:
    """The customer answered a purpose asked again after a material change: keep (as before) or not."""
    rules = catalog_rules()
    if purpose not in rules.purposes():
        raise ValidationError({"purpose": [_("Unknown purpose.")]})
    language = visit.language
    pending = {
        r.purpose: r
        for r in open_reasks(
            visit.customer,
            snapshot_choices(visit.customer),
            rules,
            current_notices(language),
            language,
            timezone.now(),
        )
    }
    reask = pending.get(purpose)
    if reask is None:
        return Saved()
    version_id = _shown_version(data, purpose, rules)
    if answer == "yes" or reask.required:
        value = reask.previous_value if not Purpose.parse(purpose).is_channel else None
        choice = Choice(purpose, State.GIVEN, version_id, value)
    else:
        choice = Choice(purpose, State.REFUSED, version_id)
    before = snapshot_choices(visit.customer)
    return _saved(visit, record(visit, [choice], evidence={"section": "reask"}), before)


def undo_choices(before: dict, now: datetime | None = None) -> list[Choice]:
    """Choices that put the given purposes back as they were (``before`` as kept from ``Saved``)."""
    now = now or timezone.now()
    rules = catalog_rules()
    result = []
    for purpose, raw in before.items():
        entry = SnapshotEntry.from_json(raw) if raw else None
        required = rules.is_required_topic(Purpose.parse(purpose))
        version = rules.current_version(purpose)
        if version is None:
            continue
        expires_at = entry.expiry if entry else None
        if entry is not None and (entry.holds or entry.is_off) and not (expires_at and expires_at <= now):
            result.append(Choice(purpose, entry.state, entry.notice_version, entry.value or None, expires_at))
        elif not required:
            result.append(Choice(purpose, State.REFUSED, version.id))
    return result


def undo(*, visit: Visit, before: dict) -> Saved:
    choices = undo_choices(before)
    if not choices:
        return Saved()
    # Putting confirmed email back after a switch-off asks for confirmation again (the core's rule): sent.
    return _saved(visit, record(visit, choices, evidence={"section": "undo"}), None)
