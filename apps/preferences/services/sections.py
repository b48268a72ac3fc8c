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
from apps.consent.entries import Choices, Held, SnapshotEntry, entries
from apps.consent.rules import SMS, Answer, Choice, State, answer_choices, option_value, topic_value
from apps.consent.services import (
    Recorded,
    answer_text,
    evidence_hash,
    remove_customer_inference,
    send_confirmation_if_requested,
)

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
from .visits import Saved, Visit, record, shown_version

SECTIONS = ("channels", "topics", "frequency", "location", "personalization", "profile", "known")


def section_of(purpose: str) -> str:
    """The page section that shows ``purpose``."""
    return {"channel": "channels", "topic": "topics"}.get(Purpose.parse(purpose).kind, purpose)


def section_choices(section: str, data, choices: Choices, rules: CatalogRules, now: datetime) -> list[Choice]:
    """The choices a posted section asks for, against ``choices`` (the snapshot's) as they stand: the section's
    controls read as answers to the purposes whose answer changed, turned into choices by the core's
    ``answer_choices``."""
    read = {
        "channels": _channel_answers,
        "topics": _topic_answers,
        "frequency": _frequency_answers,
        "location": _location_answers,
        "personalization": _personalization_answers,
        "profile": _profile_answers,
    }.get(section)
    if read is None:
        raise ValidationError({"section": [_("Unknown section.")]})
    held = entries(choices)
    return answer_choices(read(data, held, rules, now), held)


def _channel_answers(data, held: Held, rules: CatalogRules, now: datetime) -> list[Answer]:
    # A channel waiting for its confirmation is carried as a hidden field; "drop" is its Cancel button.
    wanted = set(data.getlist("channel")) - set(data.getlist("drop"))
    result = []
    for code in rules.channels:
        purpose = channel_purpose(code)
        entry = held.get(purpose)
        on = is_on(entry) and not needs_reask(purpose, entry, rules, now)
        if (code in wanted) != on:
            result.append(Answer(purpose, not on, shown_version(data, purpose, rules)))
    return result


def _topic_answers(data, held: Held, rules: CatalogRules, now: datetime) -> list[Answer]:
    result = []
    frequencies = rules.options.get("frequency", ())
    for slug, topic in rules.topics.items():
        purpose = topic_purpose(slug)
        if topic.required or f"nv:{purpose}" not in data:
            continue  # shown locked; or not on this form
        entry = held.get(purpose)
        wanted = [code for code in rules.channels if code in set(data.getlist(purpose)) & topic.channels]
        frequency = data.get(f"frequency:{purpose}", "")
        current = entry.given_value if entry else None
        if needs_reask(purpose, entry, rules, now):
            current = None
        if wanted:
            value = topic_value(wanted, frequency if frequency in frequencies else None)
            if value != current:
                result.append(Answer(purpose, True, shown_version(data, purpose, rules), value))
        elif current is not None:
            result.append(Answer(purpose, False, shown_version(data, purpose, rules)))
    return result


def _frequency_answers(data, held: Held, rules: CatalogRules, now: datetime) -> list[Answer]:
    entry = held.get("frequency")
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
    return [Answer("frequency", True, shown_version(data, "frequency", rules), value)]


def _location_answers(data, held: Held, rules: CatalogRules, now: datetime) -> list[Answer]:
    entry = held.get("location")
    level = data.get("level", "off")
    days = data.get("location_days", "")
    current = entry.value_of("level") if entry and entry.is_given else "off"
    if needs_reask("location", entry, rules, now):
        current = "off"
    if level == "off":
        switched = current != "off" or entry is None
        return [Answer("location", False, shown_version(data, "location", rules))] if switched else []
    current_end = entry.expiry if entry and current != "off" else None
    expires_at: datetime | None
    if days.isdigit() and int(days) in LOCATION_DAYS:
        expires_at = now + timedelta(days=int(days))
    else:
        expires_at = current_end  # "keep the current end" (or none, if sharing was not time-boxed)
    if level == current and expires_at == current_end:
        return []
    version = shown_version(data, "location", rules)
    return [Answer("location", True, version, option_value("location", level), expires_at)]


def _personalization_answers(data, held: Held, rules: CatalogRules, now: datetime) -> list[Answer]:
    entry = held.get("personalization")
    depth = data.get("depth", "none")
    current = entry.value_of("depth") if entry and entry.is_given else "none"
    if needs_reask("personalization", entry, rules, now):
        current = "none"
    if depth == current and entry is not None:
        return []
    version = shown_version(data, "personalization", rules)
    if depth == "none":
        return [Answer("personalization", False, version)]
    return [Answer("personalization", True, version, option_value("personalization", depth))]


def _profile_answers(data, held: Held, rules: CatalogRules, now: datetime) -> list[Answer]:
    """ "What you tell us": each question's posted options as its answer (pinned to the version shown), no
    option or its "forget this" button to forget it. Every answer is optional; a question not on the page
    (``nv:`` missing) is left alone."""
    forget = set(data.getlist("forget"))
    result = []
    for question in rules.questions:
        purpose = profile_purpose(question)
        if f"nv:{purpose}" not in data:
            continue
        entry = held.get(purpose)
        # The snapshot holds the answer's keyed hash: enough to tell whether it changed, without reading it.
        held_hash = entry.value_of("answer_hash") if entry and entry.is_given else None
        answer = [] if question in forget else [code for code in data.getlist(purpose) if code]
        if answer and evidence_hash(answer_text(answer)) != held_hash:
            result.append(Answer(purpose, True, shown_version(data, purpose, rules), {"answer": answer}))
        elif not answer and held_hash:
            result.append(Answer(purpose, False, shown_version(data, purpose, rules)))
    return result


def _saved(visit: Visit, recorded: Recorded, before: dict | None, saved: Saved | None = None) -> Saved:
    """What a recorded change tells the page (``before``: what an undo puts back, ``None`` for an undo itself);
    email consent now awaiting its confirmation sends the mail."""
    saved = saved or Saved()
    saved.recorded = recorded
    if before is not None:
        saved.before = {event.purpose: before.get(event.purpose) for event in recorded.events}
    saved.purposes = [event.purpose for event in recorded.events]
    saved.email_confirmation_sent = send_confirmation_if_requested(recorded, visit.customer, visit.language)
    return saved


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
    version_id = shown_version(data, purpose, rules)
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
