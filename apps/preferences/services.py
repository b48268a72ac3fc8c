"""What the customer's pages change. Every change ends in ``apps.consent.services.record_choices``.

A page section posts all its controls (with htmx on every change, without JavaScript on "Save"); here the
posted form becomes the list of choices that differ from the customer's snapshot, each pinned to the notice
version that was on screen (the form carries it as ``nv:<purpose>``). Unchanged purposes are not recorded
again, so the ledger holds what the customer actually changed.
"""

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from apps.catalog.purposes import Purpose, channel_purpose, topic_purpose
from apps.catalog.selectors import CatalogRules, catalog_rules
from apps.consent.entries import SnapshotEntry
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Provenance, State
from apps.consent.services import Recorded, change_identity, record_choices, send_email_confirmation
from apps.customers.models import Customer, Exposure
from apps.customers.services import (
    clean_phone,
    customer_cache_key,
    hourly_limit_reached,
    mark_phone_verified,
    record_exposures,
)

from .selectors import PreferencePage, current_notices, is_on, needs_reask, snapshot_choices
from .selectors import reasks as open_reasks

Source = ConsentEvent.Source
SECTIONS = ("channels", "topics", "frequency", "location", "personalization")
PAUSE_DAYS = (30, 60, 90)
LOCATION_DAYS = (1, 7, 30)


@dataclass(frozen=True)
class Visit:
    """Who is acting and the evidence the ledger keeps (as keyed hashes) about how."""

    customer: Customer
    language: str = "en"
    ip_address: str | None = None
    user_agent: str | None = None
    via: str = "form"


@dataclass
class Saved:
    recorded: Recorded | None = None
    before: dict = field(default_factory=dict)  # purpose -> snapshot entry (or None) before this change
    purposes: list[str] = field(default_factory=list)
    sms_code_sent: bool = False
    sms_sent_to: str = ""  # where the code went
    email_confirmation_sent: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.recorded and self.recorded.events)


def section_of(purpose: str) -> str:
    """The page section that shows ``purpose``."""
    return {"channel": "channels", "topic": "topics"}.get(Purpose.parse(purpose).kind, purpose)


def record(visit: Visit, choices: list[Choice], source: str = Source.WEB, evidence=None) -> Recorded:
    return record_choices(
        customer=visit.customer,
        choices=choices,
        provenance=Provenance(
            source=source, actor="customer", evidence={"via": visit.via, **(evidence or {})}
        ),
        language=visit.language,
        ip_address=visit.ip_address,
        user_agent=visit.user_agent,
    )


def _shown_version(data, purpose: str, rules: CatalogRules) -> int:
    """The notice version the form showed for ``purpose``; it must be one of that purpose's published ones."""
    raw = data.get(f"nv:{purpose}", "")
    version = rules.published.get(int(raw)) if str(raw).isdigit() else None
    if version is None or version.purpose != purpose:
        raise ValidationError({purpose: [_("The page was out of date. Please reload it and choose again.")]})
    return version.id


def off_state(entry: SnapshotEntry | None) -> str | None:
    """Switching something off: withdraw what was on, refuse what was never answered, leave refusals alone."""
    if entry is None:
        return State.REFUSED
    if entry.holds:
        return State.WITHDRAWN
    if entry.state in (State.EXPIRED, State.INVALIDATED):
        return State.REFUSED
    return None


# ---- from a posted section to choices ------------------------------------------------------------------


def section_choices(section: str, data, choices: dict, rules: CatalogRules, now: datetime) -> list[Choice]:
    """The choices a posted section asks for, against ``choices`` (the snapshot's) as they stand."""
    build = {
        "channels": _channel_choices,
        "topics": _topic_choices,
        "frequency": _frequency_choices,
        "location": _location_choices,
        "personalization": _personalization_choices,
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
        state = off_state(entry) if current != "off" or entry is None else None
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
        state = off_state(entry)
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


# ---- saving a section ------------------------------------------------------------------------------------


def save_section(*, visit: Visit, section: str, data, rules: CatalogRules | None = None) -> Saved:
    """Record what changed in one section. Raises ``ValidationError`` keyed by purpose; nothing is then written."""
    rules = rules or catalog_rules()
    now = timezone.now()
    # Read without a lock: the write path locks, re-reads and validates; at worst an answer is recorded twice.
    before = snapshot_choices(visit.customer)
    choices = section_choices(section, data, before, rules, now)
    saved = Saved()
    if section == "channels":
        sms = next((c for c in choices if c.purpose == "channel:sms" and c.state == State.GIVEN), None)
        if sms and visit.customer.phone_verified_at is None:
            choices.remove(sms)
            saved.sms_sent_to = start_sms_verification(visit=visit, notice_version_id=sms.notice_version_id)
            saved.sms_code_sent = True
    if not choices:
        return saved
    saved.recorded = record(visit, choices, evidence={"section": section})
    saved.before = {event.purpose: before.get(event.purpose) for event in saved.recorded.events}
    saved.purposes = [event.purpose for event in saved.recorded.events]
    if saved.recorded.awaits_email_confirmation:
        saved.email_confirmation_sent = send_email_confirmation(visit.customer, visit.language)
    return saved


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
    recorded = record(visit, [choice], evidence={"section": "reask"})
    saved = Saved(recorded=recorded, before={purpose: before.get(purpose)}, purposes=[purpose])
    if recorded.awaits_email_confirmation:
        saved.email_confirmation_sent = send_email_confirmation(visit.customer, visit.language)
    return saved


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
    recorded = record(visit, choices, evidence={"section": "undo"})
    saved = Saved(recorded=recorded, purposes=[e.purpose for e in recorded.events])
    # Putting confirmed email back after a switch-off asks for confirmation again (the core's rule): send it.
    if recorded.awaits_email_confirmation:
        saved.email_confirmation_sent = send_email_confirmation(visit.customer, visit.language)
    return saved


# ---- double opt-in ---------------------------------------------------------------------------------------


def resend_email_confirmation(*, visit: Visit) -> Saved:
    """The page's "Send the link again", within the same hourly limit as every confirmation mail."""
    if not send_email_confirmation(visit.customer, visit.language):
        raise ValidationError(
            {"channel:email": [_("We have sent several links already. Please try again later.")]}
        )
    return Saved(email_confirmation_sent=True)


def confirm_email(*, visit: Visit) -> str:
    """Record email consent as ``given`` from the link; returns what happened: confirmed, already, nothing."""
    entry = SnapshotEntry.of(snapshot_choices(visit.customer), "channel:email")
    if entry and entry.is_given:
        return "already"
    if not entry or entry.state != State.REQUESTED:
        return "nothing"
    recorded = record(
        visit,
        [Choice("channel:email", State.GIVEN, entry.notice_version)],
        source=Source.EMAIL_LINK,
        evidence={"confirmed": "email address"},
    )
    return "confirmed" if recorded.events else "nothing"


# ---- SMS: verify the number before the first text --------------------------------------------------------
#
# A number the customer types in is only held with its code; it reaches their record (through
# ``change_identity``, so the ledger sees what a new number does to text consent) once its code comes back.


def _sms_cache_key(customer: Customer) -> str:
    return customer_cache_key(customer, "sms-code")


def _code_hash(customer: Customer, phone: str, code: str) -> str:
    return salted_hmac("candor.sms-code", f"{customer.pk}:{phone}:{code}").hexdigest()


def entered_phone(raw: str) -> str:
    """The number typed on the page, with the spaces and dashes people write, checked as the record checks it."""
    phone = "".join(raw.split()).replace("-", "")
    try:
        phone = clean_phone(phone)
    except ValidationError:
        phone = ""
    if not phone:
        raise ValidationError(
            {
                "phone": [
                    _("Enter your mobile number with + and the country code, for example +49 151 12345678.")
                ]
            }
        )
    return phone


def start_sms_verification(*, visit: Visit, notice_version_id: int | None, phone: str = "") -> str:
    """Text a code to ``phone`` (checked by the caller), or else to the number on record; returns where it went."""
    customer = visit.customer
    if settings.SMS_BACKEND is None:
        raise ValidationError({"channel:sms": [_("We cannot send text messages at the moment.")]})
    typed, phone = bool(phone), phone or customer.phone
    if not phone:
        raise ValidationError(
            {"channel:sms": [_("Enter your mobile number below, and we text you a code to check it.")]}
        )
    # Texts cost money and can annoy whoever holds the number: a few codes per customer per hour, no more.
    if hourly_limit_reached(customer, "sms-sent", settings.SMS_CODES_PER_HOUR):
        raise ValidationError(
            {"channel:sms": [_("We have sent several codes already. Please try again later.")]}
        )
    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(
        _sms_cache_key(customer),
        {
            "hash": _code_hash(customer, phone, code),
            "attempts": 0,
            "notice_version": notice_version_id,
            "phone": phone if typed else "",  # a code for the number on record is bound to the record
        },
        settings.SMS_CODE_TIMEOUT,
    )
    with translation.override(visit.language):
        text = _("Your %(brand)s code is %(code)s. It confirms you want our texts.") % {
            "brand": settings.BRAND["name"],
            "code": code,
        }
    import_string(settings.SMS_BACKEND)().send(to=phone, text=text)
    return phone


def start_sms_with_number(*, visit: Visit, data, rules: CatalogRules | None = None) -> Saved:
    """Texts switched on with a number typed on the page: a code goes to it; the record is not changed yet."""
    phone = entered_phone(data.get("phone", ""))
    version_id = _shown_version(data, "channel:sms", rules or catalog_rules())
    start_sms_verification(visit=visit, notice_version_id=version_id, phone=phone)
    return Saved(sms_code_sent=True, sms_sent_to=phone)


def sms_code_pending_for(customer: Customer) -> str | None:
    """The number a code is out for and not yet entered (None when there is none)."""
    pending = cache.get(_sms_cache_key(customer))
    return None if pending is None else pending.get("phone") or customer.phone


def resend_sms_code(*, visit: Visit) -> Saved:
    """A new code to the number the last one went to (the hourly limit counts it)."""
    pending = cache.get(_sms_cache_key(visit.customer))
    if pending is None:
        raise ValidationError({"channel:sms": [_("The code has expired. Switch text messages on again.")]})
    sent_to = start_sms_verification(
        visit=visit, notice_version_id=pending["notice_version"], phone=pending.get("phone", "")
    )
    return Saved(sms_code_sent=True, sms_sent_to=sent_to)


def cancel_sms_code(customer: Customer) -> None:
    """Forget the code that is out: texts stay off, and a typed number is not kept."""
    cache.delete(_sms_cache_key(customer))


def verify_sms_code(*, visit: Visit, code: str) -> Saved:
    """Check the code; when right, keep the number as verified and record SMS consent under the version shown.

    A number typed on the page becomes the customer's through ``change_identity`` in the same transaction.
    """
    customer = visit.customer
    key = _sms_cache_key(customer)
    pending = cache.get(key)
    if pending is None:
        raise ValidationError({"channel:sms": [_("The code has expired. Switch text messages on again.")]})
    phone = pending.get("phone") or customer.phone
    if not constant_time_compare(pending["hash"], _code_hash(customer, phone, code.strip())):
        pending["attempts"] += 1
        if pending["attempts"] >= settings.SMS_CODE_MAX_ATTEMPTS:
            cache.delete(key)
            raise ValidationError(
                {"channel:sms": [_("Too many wrong codes. Switch text messages on again.")]}
            )
        cache.set(key, pending, settings.SMS_CODE_TIMEOUT)
        raise ValidationError({"channel:sms": [_("That code is not right. Please check it and try again.")]})
    cache.delete(key)
    before = snapshot_choices(customer)
    evidence = {"via": visit.via, "section": "channels", "verified": "phone number by code"}
    with transaction.atomic():
        if phone != customer.phone:
            change_identity(
                external_id=customer.external_id,
                email=customer.email,
                phone=phone,
                name=customer.name,
                locale=customer.locale,
                source=Source.WEB,
                actor="customer",
                evidence=evidence,
            )
            customer.refresh_from_db()
        mark_phone_verified(customer=customer)
        recorded = record(
            visit, [Choice("channel:sms", State.GIVEN, pending["notice_version"])], evidence=evidence
        )
    return Saved(
        recorded=recorded, before={"channel:sms": before.get("channel:sms")}, purposes=["channel:sms"]
    )


def note_page_shown(page: PreferencePage) -> None:
    """Record which notice versions the rendered page showed (the insights' denominators): a purpose asked
    again after a material change counts as a re-ask, every other current notice as shown on the page."""
    reasked = {reask.notice.version_id for reask in page.reasks}
    shown = [notice.version_id for notice in page.notices.values() if notice.version_id not in reasked]
    at = timezone.now()
    for surface, versions in ((Exposure.Surface.PAGE, shown), (Exposure.Surface.REASK, reasked)):
        if versions:
            record_exposures(
                customer_id=page.customer.pk, notice_version_ids=versions, surface=surface, at=at
            )
