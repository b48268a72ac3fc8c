"""The one write path. Every change of a preference or consent, from any door, calls ``record_choices``."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from apps.catalog.models import Notice, NoticeText, NoticeVersion
from apps.catalog.selectors import catalog_rules
from apps.customers.links import confirm_email_url, page_url
from apps.customers.models import Customer
from apps.customers.services import customer_upsert, erase_identity, mark_email_undeliverable

from . import store
from .models import ConsentEvent, InboundReport, PermissionDocument, Snapshot
from .rules import (
    ACTOR_PATTERN,
    Choice,
    Confirmation,
    State,
    apply_event,
    captured_time_problems,
    derive_permissions,
    derived_from,
    effective_state,
    next_expiry,
    system_change_applies,
    validate_choices,
)
from .selectors import replayed_snapshot_fields, superseded_consents


@dataclass(frozen=True)
class Recorded:
    events: list[ConsentEvent]
    document: PermissionDocument
    document_changed: bool
    # Recorded as history, but changing nothing: a later choice for the same purpose stands.
    history_only: tuple[ConsentEvent, ...] = ()

    @property
    def awaits_email_confirmation(self) -> bool:
        return any(
            event.purpose == "channel:email" and event.state == State.REQUESTED
            for event in self.events
            if event not in self.history_only
        )


def evidence_hash(value: str) -> str:
    """A keyed hash of an IP address or user agent: matches a later claim, reveals nothing by itself."""
    return hmac.new(settings.LEDGER_EVIDENCE_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def record_choices(
    *,
    customer: Customer,
    choices: list[Choice],
    source: str,
    actor: str,
    language: str = "en",
    evidence: dict | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    captured_at: datetime | None = None,
    confirmation: Confirmation | None = None,
) -> Recorded:
    """Append the choices to the customer's ledger and bring snapshot and permission document up to date.

    All or nothing, in one transaction under a lock on the customer's row: a bad choice raises
    ``ValidationError`` (keyed by purpose) before anything is written, and so does any change for a customer
    who was erased, but the system's own (expiry, invalidation). When the permission document changes,
    its next version and an outbox row are written with it; the delivery side picks the outbox row up after
    commit.

    ``captured_at`` is when the customer made the choice elsewhere (at checkout, in an old system), if earlier
    than now: the event keeps it beside its recording time, and a choice captured before a later one for the
    same purpose is kept as history only (``rules.takes_effect``). ``confirmation`` is proof that the customer
    already confirmed the address elsewhere: double opt-in consent is then ``given`` at once, and the ledger
    keeps the confirmation's time and (as a keyed hash) its IP address.
    """
    _validate_context(choices=choices, source=source, actor=actor, language=language, evidence=evidence)
    evidence = dict(evidence or {})
    if ip_address:
        evidence["ip_hash"] = evidence_hash(ip_address)
    if user_agent:
        evidence["user_agent_hash"] = evidence_hash(user_agent)
    if confirmation is not None:
        evidence["confirmed_at"] = confirmation.confirmed_at.isoformat()
        if confirmation.ip_address:
            evidence["confirmation_ip_hash"] = evidence_hash(confirmation.ip_address)

    with transaction.atomic():
        locked = store.lock_customer(customer.pk)
        if locked.erased and source != ConsentEvent.Source.SYSTEM:
            raise ValidationError(
                {"customer": "This customer was erased; nothing more is recorded for them."}
            )
        snapshot = locked.snapshot
        # Time and catalog are read under the lock, so a later sequence number never carries an earlier time
        # and a notice published meanwhile is seen.
        now = timezone.now()
        rules = catalog_rules(locked.catalog_token)
        _validate_capture(choices, rules, now, source, captured_at, confirmation)
        validate_choices(choices, rules, now, source)
        events, history_only = [], []
        for choice in choices:
            if not system_change_applies(choice, snapshot.choices.get(choice.purpose), rules, now):
                continue
            event = ConsentEvent(
                customer_id=customer.pk,
                sequence=snapshot.last_sequence + 1,
                purpose=choice.purpose,
                state=effective_state(
                    choice, snapshot.choices.get(choice.purpose), rules, source, confirmation is not None
                ),
                value=choice.value or None,
                notice_version_id=choice.notice_version_id,
                language=language,
                source=source,
                actor=actor,
                evidence=evidence,
                recorded_at=now,
                captured_at=captured_at,
                expires_at=choice.expires_at,
                prev_hash=snapshot.last_hash,
            )
            event.hash = event.compute_hash()
            snapshot.last_sequence, snapshot.last_hash = event.sequence, event.hash
            events.append(event)
        if not events:
            return Recorded(events=[], document=snapshot.document, document_changed=False)
        store.append_events(events)
        for event in events:
            if not apply_event(snapshot.choices, event, rules):
                history_only.append(event)
        snapshot.next_expiry_at = next_expiry(snapshot.choices)
        document = _next_document(snapshot, rules, now, locked.email_undeliverable_at)
        _save(snapshot, document, now)
    return Recorded(
        events=events,
        document=snapshot.document,
        document_changed=document is not None,
        history_only=tuple(history_only),
    )


def _validate_capture(choices, rules, now, source, captured_at, confirmation) -> None:
    """Captured times within bounds; proof of a confirmation only beside consent that needs one."""
    floor = settings.CONSENT_CAPTURED_AT_FLOOR
    errors = {}
    problems = captured_time_problems(captured_at, now, floor, "captured_at")
    if captured_at is not None and source == ConsentEvent.Source.SYSTEM:
        problems.append("The system's own changes happen now; they take no captured_at.")
    if problems:
        errors["captured_at"] = problems
    if confirmation is not None:
        problems = captured_time_problems(confirmation.confirmed_at, now, floor, "confirmed_at")
        if not any(
            choice.state == State.GIVEN
            and choice.purpose.removeprefix("channel:") in rules.double_opt_in_channels
            for choice in choices
        ):
            problems.append(
                "A confirmation proves an address: give it with consent to a double opt-in channel."
            )
        if problems:
            errors["confirmation"] = problems
    if errors:
        raise ValidationError(errors)


def send_email_confirmation(customer: Customer, language: str) -> bool:
    """Send the double opt-in mail, in ``language``, once the change that asked for it has committed.

    Every door that records email consent as ``requested`` calls this (page, API, console, imports). At most
    ``EMAIL_CONFIRMATIONS_PER_DAY`` per customer: a mail that confirms nothing new annoys whoever holds the
    address. Returns whether a mail goes out.
    """
    if not customer.email:
        return False
    sent_key = f"consent:email-confirmations:{customer.pk}"
    cache.add(sent_key, 0, 24 * 3600)
    if cache.incr(sent_key) > settings.EMAIL_CONFIRMATIONS_PER_DAY:
        return False
    with translation.override(language):
        subject = gettext("Please confirm your email address")
        body = render_to_string(
            "consent/email/confirm_email.txt",
            {
                "customer": customer,
                "confirm_url": confirm_email_url(customer),
                "page_url": page_url(customer),
            },
        )
    address = customer.email
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
    )
    return True


def _validate_context(*, choices, source, actor, language, evidence) -> None:
    errors = {}
    if not choices:
        errors["choices"] = "Nothing to record: give at least one choice."
    if source not in ConsentEvent.Source.values:
        errors["source"] = f"Unknown source {source!r}."
    if not ACTOR_PATTERN.match(actor or ""):
        errors["actor"] = (
            "Actor must be customer, system, staff:<id>, api:<client>, import:<batch> or inbound:<source>."
        )
    if language not in dict(settings.LANGUAGES):
        errors["language"] = f"Unsupported language {language!r}."
    if evidence is not None and not isinstance(evidence, dict):
        errors["evidence"] = "Evidence must be an object."
    elif evidence and {"ip", "ip_address", "user_agent"} & set(evidence):
        errors["evidence"] = "Pass ip_address and user_agent separately: the ledger keeps only keyed hashes."
    if errors:
        raise ValidationError(errors)


def _next_document(
    snapshot: Snapshot, rules, now: datetime, undeliverable: datetime | None = None
) -> PermissionDocument | None:
    """The next permission document version, if the permissions changed; the caller writes it."""
    body = derive_permissions(snapshot.choices, rules, now, undeliverable)
    current = snapshot.document
    if current is not None and current.body == body:
        return None
    return PermissionDocument(
        customer_id=snapshot.customer_id,
        version=current.version + 1 if current else 1,
        body=body,
        derived_from=derived_from(snapshot.choices),
        created_at=now,
    )


def _save(snapshot: Snapshot, document: PermissionDocument | None, now: datetime) -> None:
    store.save_state(snapshot, document, now)
    if document is not None:
        transaction.on_commit(_announce_outbox)


def _announce_outbox() -> None:
    """After commit, tell the delivery side (``settings.CONSENT_ON_OUTBOX_COMMIT``, a dotted path) that an
    outbox row is waiting. Its sweeper finds the row anyway; this only makes delivery prompt."""
    if settings.CONSENT_ON_OUTBOX_COMMIT:
        import_string(settings.CONSENT_ON_OUTBOX_COMMIT)()


def publish_notice_version(*, version: NoticeVersion) -> int:
    """Publish a notice version; if it is material, invalidate consents given under older versions.

    Each invalidation is a new ledger event through ``record_choices`` (never an edit of an old row).
    Returns how many customers' consents were invalidated. The admin publishes with
    ``mark_notice_version_published`` and leaves the invalidation to a Celery task instead.
    """
    mark_notice_version_published(version=version)
    return invalidate_superseded_consents(version=version)


def mark_notice_version_published(*, version: NoticeVersion) -> None:
    """Make the version the one shown and asked for from now on; invalidating what it supersedes comes after."""
    if version.is_published:
        raise ValidationError(f"{version} is already published.")
    with transaction.atomic():
        version.mark_published()


def publish_legacy_notice_version(*, purpose: str, source: str, texts: dict[str, dict]) -> NoticeVersion:
    """Publish the wording a source system showed before Candor (what its sign-up form said), for consent
    imported from it, so proof always shows a wording. ``texts`` maps a language to the four notice fields.

    A legacy version is numbered 0, is never offered as the current version, and is not material: consent
    under it stays in force until a material version published after it. One per purpose and source.
    """
    notice = Notice.objects.filter(purpose=purpose).first()
    errors = {}
    if notice is None:
        errors["purpose"] = f"No notice for {purpose!r}."
    if not source or len(source) > 40 or not source.replace("-", "").replace("_", "").isalnum():
        errors["source"] = "Name the source system with letters, digits, - or _ (up to 40)."
    if "en" not in texts:
        errors["texts"] = "Give at least the English wording."
    for language, fields in texts.items():
        missing = [f for f in NoticeText.TEXT_FIELDS if not str(fields.get(f, "")).strip()]
        if language not in dict(settings.LANGUAGES) or missing:
            errors[f"texts.{language}"] = f"Unsupported language, or missing {', '.join(missing)}."
    if notice and NoticeVersion.objects.filter(notice=notice, legacy_source=source).exists():
        errors["source"] = f"{purpose} already has a legacy version for {source}; published wording is final."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        version = NoticeVersion.objects.create(notice=notice, number=0, legacy_source=source)
        for language, fields in texts.items():
            NoticeText.objects.create(
                version=version, language=language, **{f: fields[f].strip() for f in NoticeText.TEXT_FIELDS}
            )
        version.mark_published()
    return version


def invalidate_superseded_consents(*, version: NoticeVersion, limit: int | None = None) -> int:
    """Invalidate the consents given under versions older than this published material one.

    Safe to run again, e.g. after a crash part-way through a publication: under each customer's lock the
    write path skips a consent that is already invalidated or was given anew. With ``limit``, stops after that
    many customers; the next call goes on with the rest (the Celery task works in batches this way).
    """
    affected = superseded_consents(version=version).select_related("customer")
    if limit is not None:
        affected = affected[:limit]
    invalidated = 0
    for snapshot in affected.iterator(chunk_size=500):
        recorded = record_choices(
            customer=snapshot.customer,
            choices=[
                Choice(purpose=version.notice.purpose, state=State.INVALIDATED, notice_version_id=version.pk)
            ],
            source=ConsentEvent.Source.SYSTEM,
            actor="system",
            evidence={"reason": f"material change: {version}"},
        )
        invalidated += len(recorded.events)
    return invalidated


def expire_consents(*, now: datetime | None = None) -> int:
    """Write an ``expired`` event for every time-boxed consent whose time is up. Returns how many."""
    now = now or timezone.now()
    expired = 0
    for snapshot in Snapshot.objects.filter(next_expiry_at__lte=now).select_related("customer").iterator():
        due = [
            Choice(purpose=purpose, state=State.EXPIRED, notice_version_id=entry["notice_version"])
            for purpose, entry in snapshot.choices.items()
            if entry["state"] == State.GIVEN
            and entry["expires_at"]
            and datetime.fromisoformat(entry["expires_at"]) <= now
        ]
        if due:
            recorded = record_choices(
                customer=snapshot.customer,
                choices=due,
                source=ConsentEvent.Source.SYSTEM,
                actor="system",
                evidence={"reason": "time-boxed consent ended"},
            )
            expired += len(recorded.events)
    return expired


def rebuild_snapshot(*, customer: Customer) -> bool:
    """Recompute the customer's snapshot from the ledger alone; returns whether it had drifted from it."""
    with transaction.atomic():
        locked = store.lock_customer(customer.pk)
        snapshot = locked.snapshot
        rules = catalog_rules(locked.catalog_token)
        replayed = replayed_snapshot_fields(customer.pk)
        drifted = snapshot._state.adding or any(getattr(snapshot, f) != v for f, v in replayed.items())
        for field, value in replayed.items():
            setattr(snapshot, field, value)
        now = timezone.now()
        document = _next_document(snapshot, rules, now, locked.email_undeliverable_at)
        _save(snapshot, document, now)
    return drifted or document is not None


def change_identity(
    *, external_id: str, source: str, actor: str, evidence: dict | None = None, **identity
) -> tuple[Customer, bool]:
    """Create the customer or update their identity (``customer_upsert``); returns ``(customer, created)``.

    Email consent was confirmed for the old address and text consent for the old number, so in the same
    transaction, under the customer's lock, a change pauses what the new one has not proved:
    - a new email address puts ``channel:email``, if given or awaiting confirmation, back to ``requested``:
      not allowed until the customer confirms the new address by the double opt-in link (their page offers
      to send it); with no address left it is withdrawn;
    - a new phone number (or none) withdraws ``channel:sms``: the page verifies a number by code only when
      texts are switched on, so switching them on again asks for the new number's code.
    Each is an event through ``record_choices`` pinned to the notice version the consent was given under.
    The same address in other case or spacing, or the same number, changes no consent.
    """
    with transaction.atomic():
        before = Customer.objects.select_for_update().filter(external_id=external_id).first()
        customer, created = customer_upsert(external_id=external_id, **identity)
        if before is None:
            return customer, created
        choices, reasons = _identity_change_choices(before, customer)
        if choices:
            record_choices(
                customer=customer,
                choices=choices,
                source=source,
                actor=actor,
                evidence={**(evidence or {}), "reason": "; ".join(reasons)},
            )
        elif before.email_undeliverable_at and not customer.email_undeliverable_at:
            rebuild_snapshot(customer=customer)  # the next document drops the old address's bounce flag
    return customer, created


def _identity_change_choices(before: Customer, after: Customer) -> tuple[list[Choice], list[str]]:
    snapshot = Snapshot.objects.filter(customer_id=after.pk).first()
    current = snapshot.choices if snapshot else {}
    choices, reasons = [], []
    email = current.get("channel:email")
    if after.email != before.email and email and email["state"] in (State.GIVEN, State.REQUESTED):
        if after.email:
            choices.append(Choice("channel:email", State.REQUESTED, email["notice_version"]))
            reasons.append("email address changed: email awaits confirmation of the new address")
        else:
            choices.append(Choice("channel:email", State.WITHDRAWN, email["notice_version"]))
            reasons.append("email address removed")
    sms = current.get("channel:sms")
    if after.phone != before.phone and sms and sms["state"] in (State.GIVEN, State.REQUESTED):
        choices.append(Choice("channel:sms", State.WITHDRAWN, sms["notice_version"]))
        reasons.append("phone number changed: texts stop until the new number is verified")
    return choices, reasons


def erase_customer(*, customer: Customer, source: str, actor: str, evidence: dict | None = None) -> Customer:
    """Erase the customer's personal data; the ledger stays, pseudonymous and verifiable.

    In one transaction: every consent still given or awaiting confirmation is withdrawn through
    ``record_choices`` (so downstream systems get a permission document that allows nothing), then email, phone
    and name are blanked and the customer is marked erased. The ledger never held them, so every chain still
    verifies. Erasing an erased customer changes nothing.
    """
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.erased_at:
            return customer
        rules = catalog_rules()
        latest: dict[str, tuple[int, int]] = {}
        for version in rules.published.values():
            if version.number > latest.get(version.purpose, (0, 0))[0]:
                latest[version.purpose] = (version.number, version.id)
        snapshot = Snapshot.objects.filter(customer_id=customer.pk).first()
        withdrawals = [
            Choice(purpose=purpose, state=State.WITHDRAWN, notice_version_id=latest[purpose][1])
            for purpose, entry in (snapshot.choices if snapshot else {}).items()
            if entry["state"] in (State.GIVEN, State.REQUESTED)
            and purpose in latest
            and not _is_required_topic(purpose, rules)
        ]
        if withdrawals:
            record_choices(
                customer=customer,
                choices=withdrawals,
                source=source,
                actor=actor,
                evidence={**(evidence or {}), "reason": "erasure requested"},
            )
        return erase_identity(customer=customer, at=timezone.now())


def _is_required_topic(purpose: str, rules) -> bool:
    topic = rules.topics.get(purpose.removeprefix("topic:")) if purpose.startswith("topic:") else None
    return bool(topic and topic.required)


def record_inbound_report(
    *, report: InboundReport, choices: list[Choice] | None = None
) -> tuple[InboundReport, Recorded | None]:
    """Keep a provider's report (unsaved ``InboundReport``) and record the choices it carries, in one
    transaction: a report already kept for the source and event id raises ``IntegrityError`` and records
    nothing. The choices go through ``record_choices`` with the provider as source, ``inbound:<source>`` as
    actor and the provider's event time as captured time, so a report older than the customer's newer choice
    for a purpose is history only (outcome ``stale``)."""
    recorded = None
    with transaction.atomic():
        if choices:
            recorded = record_choices(
                customer=report.customer,
                choices=choices,
                source=report.provider,
                actor=f"inbound:{report.source_name}",
                language=report.customer.locale,
                captured_at=min(report.occurred_at, report.received_at),  # never ahead of our clock
            )
            report.recorded_at = recorded.events[0].recorded_at if recorded.events else None
            report.ledger_events = [event.pk for event in recorded.events]
            if len(recorded.history_only) == len(recorded.events):
                report.outcome = (
                    InboundReport.Outcome.STALE if recorded.events else InboundReport.Outcome.UNCHANGED
                )
            else:
                report.outcome = InboundReport.Outcome.RECORDED
        report.save()
    return report, recorded


def mark_address_undeliverable(*, customer: Customer, at: datetime) -> bool:
    """A provider says mail to the customer's address bounces (hard) or was cleaned: keep the flag on the
    customer and put it in the permission document (a new version if it was not there), so senders stop
    trying. Not a consent: no ledger event. A new address clears it (``customer_upsert``). Returns whether
    the document changed."""
    with transaction.atomic():
        locked = store.lock_customer(customer.pk)
        if locked.erased or locked.email_undeliverable_at is not None:
            return False
        mark_email_undeliverable(customer=customer, at=at)
        now = timezone.now()
        rules = catalog_rules(locked.catalog_token)
        document = _next_document(locked.snapshot, rules, now, at)
        _save(locked.snapshot, document, now)
    return document is not None
