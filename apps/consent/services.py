"""The one write path. Every change of a preference or consent, from any door, calls ``record_choices``."""

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Model
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from apps.catalog.models import Notice, NoticeText, NoticeVersion, languages_missing_an_example
from apps.catalog.purposes import Purpose
from apps.catalog.selectors import CatalogRules, benefit_kinds, catalog_revision_token, catalog_rules
from apps.customers.links import confirm_email_url, page_url
from apps.customers.models import Customer, Inference, MessageRecord
from apps.customers.services import (
    add_evidence_note,
    customer_upsert,
    erase_identity,
    forget_profile_answer,
    hourly_limit_reached,
    keep_profile_answer,
    mark_email_undeliverable,
    message_records_add,
    remove_inference,
    replace_inferences,
)

from . import store
from .checkpoints import MerkleRoot, head_leaf, sign, signed_bytes
from .entries import Choices, SnapshotEntry, entries
from .evidence import clean_evidence, clean_note
from .models import ConsentEvent, InboundReport, LedgerCheckpoint, PermissionDocument, Snapshot
from .rules import (
    ACTOR_PATTERN,
    Choice,
    Confirmation,
    Provenance,
    State,
    apply_event,
    captured_time_problems,
    derive_permissions,
    derived_from,
    effective_state,
    next_expiry,
    system_change_applies,
    unverified_number_problems,
    validate_choices,
)
from .selectors import (
    first_rewound_head,
    newest_material_versions,
    replayed_snapshot_fields,
    superseded_consents,
)


@dataclass(frozen=True)
class Recorded:
    events: list[ConsentEvent]
    document: PermissionDocument | None  # None: the customer never chose anything
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
    provenance: Provenance,
    language: str = "en",
    ip_address: str | None = None,
    user_agent: str | None = None,
    note: str | None = None,
    confirmation: Confirmation | None = None,
) -> Recorded:
    """Append the choices to the customer's ledger and bring snapshot and permission document up to date.

    All or nothing, in one transaction under a lock on the customer's row: a bad choice raises
    ``ValidationError`` (keyed by purpose) before anything is written, and so does any change for a customer
    who was erased, but the system's own (expiry, invalidation). When the permission document changes,
    its next version and an outbox row are written with it; the delivery side picks the outbox row up after
    commit.

    ``provenance`` says where the change comes from. Its evidence holds only known keys with values from fixed
    lists (``apps.consent.evidence``); free text goes in ``note``, which is kept in an erasable table and
    referenced from the evidence by id and keyed hash. Its captured time is when the customer made the choice
    elsewhere, if earlier than now: the event keeps it beside its recording time, and a choice captured before
    a later one for the same purpose is kept as history only (``rules.takes_effect``). ``confirmation`` is proof that the customer
    already confirmed the address elsewhere: double opt-in consent is then ``given`` at once, and the ledger
    keeps the confirmation's time and (as a keyed hash) its IP address.
    """
    change = Change(
        customer_id=customer.pk,
        choices=choices,
        provenance=provenance,
        language=language,
        ip_address=ip_address,
        user_agent=user_agent,
        note=note,
        confirmation=confirmation,
    )
    with transaction.atomic():
        return _record(change)


@dataclass(frozen=True)
class Change:
    """One ``record_choices`` call's arguments, by customer id: what ``record_changes_in_bulk`` takes."""

    customer_id: int
    choices: list[Choice]
    provenance: Provenance
    language: str = "en"
    ip_address: str | None = None
    user_agent: str | None = None
    note: str | None = None
    confirmation: Confirmation | None = None


# What a caller decides to record from the customer's choices and the catalog, read under the write path's lock.
Decide = Callable[[Choices, CatalogRules], list[Choice]]
# What a caller runs after commit instead of the outbox announcement, when the permission document changed.
Announce = Callable[[], None]
# The row a caller keeps of why it recorded (an inbound report), made from the events appended and those of them
# kept as history only; written with the state.
Receipt = Callable[[list[ConsentEvent], tuple[ConsentEvent, ...]], Model]


def _record(
    change: Change,
    decide: Decide | None = None,
    announce: Announce | None = None,
    receipt: Receipt | None = None,
) -> Recorded:
    """``record_choices`` in the caller's transaction: a caller that writes more with it (an inbound report)
    spares the savepoint a nested ``atomic`` costs; an error still rolls the whole transaction back.

    With ``decide``, the change's choices are what it returns for the locked snapshot and catalog (nothing
    recorded if it returns none): a change derived from the customer's current choices then never rests on a
    read taken before the lock, which a concurrent change could have made stale. ``announce`` replaces the
    outbox announcement after commit (``_save``); ``receipt``'s row, when events are appended, is written in the
    state's own statement (``store.save_state``)."""
    if decide is None:
        _validate_context(choices=change.choices, provenance=change.provenance, language=change.language)
    locked = store.lock_customer(change.customer_id)
    snapshot = locked.snapshot
    # Time and catalog are read under the lock, so a later sequence number never carries an earlier time
    # and a notice published meanwhile is seen.
    now = timezone.now()
    rules = catalog_rules(locked.catalog_token)
    if decide is not None:
        change = replace(change, choices=decide(snapshot.choices, rules))
        if not change.choices:
            return Recorded(events=[], document=snapshot.document, document_changed=False)
        _validate_context(choices=change.choices, provenance=change.provenance, language=change.language)
    events = _new_events(change, locked.erased, snapshot, rules, now)
    if not events:
        return Recorded(events=[], document=snapshot.document, document_changed=False)
    store.append_events(events)
    history_only = _fold(snapshot, events, rules)
    document = _next_document(snapshot, rules, now, locked)
    _save(snapshot, document, now, announce, receipt(events, history_only) if receipt else None)
    return Recorded(
        events=events,
        document=snapshot.document,
        document_changed=document is not None,
        history_only=history_only,
    )


def _validate_number(change: Change) -> None:
    """Read the number's verification only for a change that gives SMS consent (under the customer's lock)."""
    if not unverified_number_problems(change.choices, change.provenance.source, number_verified=False):
        return
    verified = Customer.objects.filter(pk=change.customer_id, phone_verified_at__isnull=False).exists()
    problems = unverified_number_problems(change.choices, change.provenance.source, verified)
    if problems:
        raise ValidationError(problems)


def _new_events(
    change: Change, erased: bool, snapshot: Snapshot, rules: CatalogRules, now: datetime
) -> list[ConsentEvent]:
    """Validate the change against the locked state and build its events, chained on from the snapshot's last
    hash (advanced in place); nothing is written. Raises ``ValidationError`` for a bad change."""
    source, captured_at = change.provenance.source, change.provenance.captured_at
    if erased and source != ConsentEvent.Source.SYSTEM:
        raise ValidationError({"customer": "This customer was erased; nothing more is recorded for them."})
    _validate_capture(change.choices, rules, now, source, captured_at, change.confirmation)
    validate_choices(change.choices, rules, now, source)
    _validate_number(change)
    evidence = clean_evidence(change.provenance.evidence, {choice.purpose for choice in change.choices})
    note = clean_note(change.note)
    if change.ip_address:
        evidence["ip_hash"] = evidence_hash(change.ip_address)
    if change.user_agent:
        evidence["user_agent_hash"] = evidence_hash(change.user_agent)
    if change.confirmation is not None:
        evidence["confirmed_at"] = change.confirmation.confirmed_at.isoformat()
        if change.confirmation.ip_address:
            evidence["confirmation_ip_hash"] = evidence_hash(change.confirmation.ip_address)
    choices = [
        choice
        for choice in change.choices
        if system_change_applies(choice, SnapshotEntry.of(snapshot.choices, choice.purpose), rules, now)
    ]
    choices = [_answer_kept(choice, change.customer_id, now) for choice in choices]
    if choices and note:  # kept only when something is recorded
        evidence["note_id"] = add_evidence_note(customer_id=change.customer_id, text=note).pk
        evidence["note_hash"] = evidence_hash(note)
    events = []
    for choice in choices:
        current = SnapshotEntry.of(snapshot.choices, choice.purpose)
        event = ConsentEvent(
            customer_id=change.customer_id,
            sequence=snapshot.last_sequence + 1,
            purpose=choice.purpose,
            state=effective_state(choice, current, rules, source, change.confirmation is not None),
            value=choice.value or None,
            notice_version_id=choice.notice_version_id,  # type: ignore[misc]  # validated: a published version
            language=change.language,
            source=source,
            actor=change.provenance.actor,
            evidence=evidence,
            recorded_at=now,
            # In UTC, as the database gives it back: the hash covers its text.
            captured_at=captured_at.astimezone(UTC) if captured_at else None,
            expires_at=choice.expires_at,
            prev_hash=snapshot.last_hash,
        )
        event.hash = event.compute_hash()
        snapshot.last_sequence, snapshot.last_hash = event.sequence, event.hash
        events.append(event)
    return events


def _answer_kept(choice: Choice, customer_id: int, now: datetime) -> Choice:
    """A profile answer goes to the erasable table, never the ledger: the event's value is the kept row's id
    and a keyed hash of the answer (as ``note_id`` / ``note_hash`` for a note). Anything but ``given`` forgets
    the answer."""
    question = Purpose.parse(choice.purpose).question_code
    if question is None:
        return choice
    if choice.state != State.GIVEN:
        forget_profile_answer(customer_id=customer_id, question=question)
        return choice
    # validate_choices has made sure of both: a given answer carries its value and the version it answers
    assert choice.value is not None
    assert choice.notice_version_id is not None
    answer = choice.value["answer"]
    kept = keep_profile_answer(
        customer_id=customer_id,
        question=question,
        notice_version_id=choice.notice_version_id,
        answer=answer,
        at=now,
    )
    value = {"answer_id": kept.pk, "answer_hash": evidence_hash(answer_text(answer))}
    return replace(choice, value=value)


def answer_text(answer: list[str]) -> str:
    """The text an answer's keyed hash covers: its option codes, sorted, comma-separated."""
    return ",".join(sorted(answer))


def _fold(snapshot: Snapshot, events: list[ConsentEvent], rules: CatalogRules) -> tuple[ConsentEvent, ...]:
    """Apply the events to the snapshot; returns those kept as history only."""
    history_only = tuple(event for event in events if not apply_event(snapshot.choices, event, rules))
    snapshot.next_expiry_at = next_expiry(snapshot.choices)
    return history_only


def record_changes_in_bulk(*, groups: list[list[Change]]) -> list[list[Recorded] | ValidationError]:
    """What ``record_choices`` would record for each change, in order, with set-based statements.

    For imports: in one transaction, every customer in the batch is locked (in id order), their snapshots and
    documents loaded in one statement, each change decided by exactly the code ``record_choices`` runs (same
    validation, same rules, the hash chain continued per customer in order), and then all events, all
    documents with their outbox rows, and all snapshots written in a few multi-row statements. A group (say,
    an imported row's changes) is all or nothing: the first bad change in it is returned, as the
    ``ValidationError`` ``record_choices`` would raise, in the group's place and nothing of the group is
    written. The ledger, snapshots and documents it leaves are those of ``record_choices`` called once per
    change at the same instant.
    """
    with transaction.atomic():
        locked = store.lock_customers(sorted({change.customer_id for group in groups for change in group}))
        now = timezone.now()
        rules = catalog_rules(next(iter(locked.values())).catalog_token if locked else None)
        # First decide every change against a scratch copy of the state, so a bad group leaves no trace; then
        # write the events (which gives them their ids) and fold them into the real snapshots.
        scratch = {customer_id: _scratch_copy(held.snapshot) for customer_id, held in locked.items()}
        plans: list[list[tuple[Change, list[ConsentEvent]]] | ValidationError] = []
        for group in groups:
            trial = {change.customer_id: _scratch_copy(scratch[change.customer_id]) for change in group}
            try:
                plan = []
                for change in group:
                    _validate_context(
                        choices=change.choices, provenance=change.provenance, language=change.language
                    )
                    held = trial[change.customer_id]
                    events = _new_events(change, locked[change.customer_id].erased, held, rules, now)
                    _fold(held, events, rules)
                    plan.append((change, events))
            except ValidationError as error:
                plans.append(error)
                continue
            scratch.update(trial)
            plans.append(plan)
        store.append_many_events(
            [e for plan in plans if isinstance(plan, list) for _, evs in plan for e in evs]
        )
        results: list[list[Recorded] | ValidationError] = []
        documents: list[PermissionDocument] = []
        touched: dict[int, Snapshot] = {}
        for decided in plans:
            if isinstance(decided, ValidationError):
                results.append(decided)
                continue
            recorded = []
            for change, events in decided:
                snapshot = locked[change.customer_id].snapshot
                if not events:
                    recorded.append(Recorded(events=[], document=snapshot.document, document_changed=False))
                    continue
                snapshot.last_sequence, snapshot.last_hash = events[-1].sequence, events[-1].hash
                history_only = _fold(snapshot, events, rules)
                document = _next_document(snapshot, rules, now, locked[change.customer_id])
                if document is not None:
                    documents.append(document)
                    snapshot.document = document
                touched[change.customer_id] = snapshot
                recorded.append(
                    Recorded(
                        events=events,
                        document=snapshot.document,
                        document_changed=document is not None,
                        history_only=history_only,
                    )
                )
            results.append(recorded)
        store.save_many_states(list(touched.values()), documents, now)
        if documents:
            transaction.on_commit(_announce_outbox)
    return results


def _scratch_copy(snapshot: Snapshot) -> Snapshot:
    # A shallow copy is enough: folding an event replaces a purpose's entry, it never edits one.
    copy = Snapshot(customer_id=snapshot.customer_id, choices=dict(snapshot.choices))
    copy.last_sequence, copy.last_hash = snapshot.last_sequence, snapshot.last_hash
    return copy


def _validate_capture(
    choices: list[Choice],
    rules: CatalogRules,
    now: datetime,
    source: str,
    captured_at: datetime | None,
    confirmation: Confirmation | None,
) -> None:
    """Captured times within bounds; proof of a confirmation only beside consent that needs one."""
    floor = settings.CONSENT_CAPTURED_AT_FLOOR
    errors: dict[str, list[str]] = {}
    problems = captured_time_problems(captured_at, now, floor, "captured_at")
    if captured_at is not None and source == ConsentEvent.Source.SYSTEM:
        problems.append("The system's own changes happen now; they take no captured_at.")
    if problems:
        errors["captured_at"] = problems
    if confirmation is not None:
        problems = captured_time_problems(confirmation.confirmed_at, now, floor, "confirmed_at")
        if not any(
            choice.state == State.GIVEN and rules.needs_double_opt_in(Purpose.parse(choice.purpose))
            for choice in choices
        ):
            problems.append(
                "A confirmation proves an address: give it with consent to a double opt-in channel."
            )
        if problems:
            errors["confirmation"] = problems
    if errors:
        raise ValidationError(errors)


def send_confirmation_if_requested(recorded: Recorded, customer: Customer, language: str) -> bool:
    """After a change that left email consent awaiting its confirmation, send the double opt-in mail (from any
    door that records one change at a time; imports send theirs in a batch task). Returns whether one went out.
    """
    return recorded.awaits_email_confirmation and send_email_confirmation(customer, language)


def send_email_confirmation(customer: Customer, language: str) -> bool:
    """Send the double opt-in mail, in ``language``, once the change that asked for it has committed.

    Every door that records email consent as ``requested`` calls this (page, API, console, imports). At most
    ``EMAIL_CONFIRMATIONS_PER_HOUR`` per customer: each is a mail to whoever holds the address, and anyone can
    ask for one. Returns whether a mail goes out.
    """
    if not customer.email or hourly_limit_reached(
        customer, "email-confirmation-sent", settings.EMAIL_CONFIRMATIONS_PER_HOUR
    ):
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


def _validate_context(*, choices: list[Choice], provenance: Provenance, language: str) -> None:
    errors: dict[str, str] = {}
    if not choices:
        errors["choices"] = "Nothing to record: give at least one choice."
    if provenance.source not in ConsentEvent.Source.values:
        errors["source"] = f"Unknown source {provenance.source!r}."
    if not ACTOR_PATTERN.match(provenance.actor or ""):
        errors["actor"] = (
            "Actor must be customer, system, staff:<id>, api:<client>, import:<batch> or inbound:<source>."
        )
    if language not in dict(settings.LANGUAGES):
        errors["language"] = f"Unsupported language {language!r}."
    if errors:
        raise ValidationError(errors)


def _next_document(
    snapshot: Snapshot, rules: CatalogRules, now: datetime, locked: store.Locked
) -> PermissionDocument | None:
    """The next permission document version, if the permissions changed; the caller writes it."""
    body = derive_permissions(
        snapshot.choices, rules, now, locked.email_undeliverable_at, locked.inferences_revision
    )
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


def _save(
    snapshot: Snapshot,
    document: PermissionDocument | None,
    now: datetime,
    announce: Announce | None = None,
    receipt: Model | None = None,
) -> None:
    """Write the state; a new document is announced after commit, by ``announce`` if the caller brings its own."""
    store.save_state(snapshot, document, now, receipt)
    if document is not None:
        transaction.on_commit(announce or _announce_outbox)


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


def mark_notice_version_published(*, version: NoticeVersion, starting_experiment: bool = False) -> None:
    """Make the version the one shown and asked for from now on; invalidating what it supersedes comes after.

    An experiment's variant (``experimental``) is published only by starting its experiment, after the notice lint
    and a privacy officer's approval of exactly that wording (apps/experiments): that caller alone says
    ``starting_experiment``. Any other door (the admin) is refused.
    """
    if version.is_published:
        raise ValidationError(f"{version} is already published.")
    if version.experimental and not starting_experiment:
        raise ValidationError(
            f"{version} is a variant of an experiment: only starting the experiment publishes it, after the "
            "notice lint and a privacy officer's approval (Support console → Experiments)."
        )
    if missing := languages_missing_an_example({text.language: text.example for text in version.texts.all()}):
        raise ValidationError(
            f"{version} gives an example of what the customer gets in some languages but not in "
            f"{', '.join(missing)}: give one in every language, or in none."
        )
    with transaction.atomic():
        version.mark_published()


def publish_legacy_notice_version(
    *, purpose: str, source: str, texts: dict[str, dict[str, str]]
) -> NoticeVersion:
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
    if errors or notice is None:
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
            provenance=Provenance(
                source=ConsentEvent.Source.SYSTEM,
                actor="system",
                evidence={"reason": f"material change: {version}"},
            ),
        )
        invalidated += len(recorded.events)
    return invalidated


# A published material version's invalidation runs as a chain of batches (Celery tasks, each queuing the next);
# two cache keys coordinate the chain with the sweeper that restarts stopped chains.


def _chain_running(version_id: int) -> str:
    """The cache key a version's invalidation chain holds while it works: the sweeper leaves that version be."""
    return f"consent:invalidating:{version_id}"


def _finished(version_id: int) -> str:
    """The cache key of a version that supersedes no standing consent any more. It stays so: a consent under an
    older version can no longer be given (the write path checks notices under the customer's lock), so the
    sweeper need not scan every snapshot for it again. Lost with the cache, it costs one scan to set again."""
    return f"consent:invalidated:{version_id}"


def start_invalidation_chain(version_id: int) -> None:
    """Mark the version's chain at work, before its first batch is queued."""
    cache.set(_chain_running(version_id), True, settings.NOTICE_INVALIDATION_SWEEP_SECONDS)


def stop_invalidation_chain(version_id: int) -> None:
    """The chain's first batch could not be queued: leave the version to the sweeper."""
    cache.delete(_chain_running(version_id))


def invalidate_next_batch(version_id: int) -> tuple[int, bool]:
    """One batch of the version's chain (``NOTICE_INVALIDATION_BATCH_SIZE`` customers): how many consents it
    invalidated, and whether the chain goes on (this batch got somewhere and some are left)."""
    start_invalidation_chain(version_id)
    version = NoticeVersion.objects.select_related("notice").get(pk=version_id)
    invalidated = invalidate_superseded_consents(
        version=version, limit=settings.NOTICE_INVALIDATION_BATCH_SIZE
    )
    left = superseded_consents(version=version).exists()
    goes_on = bool(invalidated and left)
    if not goes_on:
        cache.delete(_chain_running(version_id))
    if not left:
        cache.set(_finished(version_id), True, None)
    return invalidated, goes_on


def claim_stopped_invalidations() -> list[int]:
    """The material versions that still leave superseded consents standing (the broker was down when one was
    published, or its chain stopped early) and that no chain works on lately, each marked at work for the chain
    the caller starts. One EXISTS per notice whose newest material version is not known to be finished."""
    versions = newest_material_versions()
    finished = cache.get_many([_finished(version.pk) for version in versions])
    claimed = []
    for version in versions:
        if _finished(version.pk) in finished:
            continue
        if not superseded_consents(version=version).exists():
            cache.set(_finished(version.pk), True, None)
        elif cache.add(_chain_running(version.pk), True, settings.NOTICE_INVALIDATION_SWEEP_SECONDS):
            claimed.append(version.pk)
    return claimed


def expire_consents(*, now: datetime | None = None) -> int:
    """Write an ``expired`` event for every time-boxed consent whose time is up. Returns how many."""
    now = now or timezone.now()
    expired = 0
    for snapshot in Snapshot.objects.filter(next_expiry_at__lte=now).select_related("customer").iterator():
        due = [
            Choice(purpose=purpose, state=State.EXPIRED, notice_version_id=entry.notice_version)
            for purpose, entry in entries(snapshot.choices).items()
            if entry.is_given and (expiry := entry.expiry) is not None and expiry <= now
        ]
        if due:
            recorded = record_choices(
                customer=snapshot.customer,
                choices=due,
                provenance=Provenance(
                    source=ConsentEvent.Source.SYSTEM,
                    actor="system",
                    evidence={"reason": "time-boxed consent ended"},
                ),
            )
            expired += len(recorded.events)
    return expired


def refresh_documents(*, after: int = 0, limit: int = 1000) -> int | None:
    """Re-derive the permission documents of up to ``limit`` customers (by id, after ``after``) under today's
    catalog; returns the last customer id done, or ``None`` when none were left.

    A narrowing catalog change (a required topic made optional, a topic removed) changes what documents say
    with no customer's choice, so no ledger event; widening ones are refused by the catalog. Each document that
    changes gets its next version and outbox row here, under the customer's lock, as the write path writes them.
    """
    customer_ids = list(
        Snapshot.objects.filter(customer_id__gt=after)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)[:limit]
    )
    for customer_id in customer_ids:
        with transaction.atomic():
            locked = store.lock_customer(customer_id)
            now = timezone.now()
            document = _next_document(locked.snapshot, catalog_rules(locked.catalog_token), now, locked)
            if document is not None:
                _save(locked.snapshot, document, now)
    return customer_ids[-1] if customer_ids else None


DOCUMENTS_REFRESH = "consent:documents-refresh"


def refresh_next_documents() -> tuple[int | None, bool]:
    """One batch of re-derived documents (``NOTICE_INVALIDATION_BATCH_SIZE`` customers) while the catalog
    revision differs from the one every document was last derived under: the last customer id done (``None``
    when there was nothing to do), and whether more are left. The walk's place is kept in the cache; one
    interrupted by a newer catalog change starts over."""
    token = catalog_revision_token()
    state = cache.get(DOCUMENTS_REFRESH) or {}
    if state.get("done") == token:
        return None, False
    after = state.get("after", 0) if state.get("token") == token else 0
    last = refresh_documents(after=after, limit=settings.NOTICE_INVALIDATION_BATCH_SIZE)
    if last is None:
        cache.set(DOCUMENTS_REFRESH, {"done": token}, None)
        return None, False
    cache.set(DOCUMENTS_REFRESH, {"token": token, "after": last}, None)
    return last, True


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
        document = _next_document(snapshot, rules, now, locked)
        _save(snapshot, document, now)
    return drifted or document is not None


def change_identity(
    *,
    external_id: str,
    source: str,
    actor: str,
    evidence: dict[str, Any] | None = None,
    note: str | None = None,
    **identity: Any,
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
                provenance=Provenance(
                    source=source, actor=actor, evidence={**(evidence or {}), "reason": "; ".join(reasons)}
                ),
                note=note,
            )
        elif before.email_undeliverable_at and not customer.email_undeliverable_at:
            rebuild_snapshot(customer=customer)  # the next document drops the old address's bounce flag
    return customer, created


def _identity_change_choices(before: Customer, after: Customer) -> tuple[list[Choice], list[str]]:
    snapshot = Snapshot.objects.filter(customer_id=after.pk).first()
    current = snapshot.choices if snapshot else {}
    choices, reasons = [], []
    email = SnapshotEntry.of(current, "channel:email")
    if after.email != before.email and email and email.holds:
        if after.email:
            choices.append(Choice("channel:email", State.REQUESTED, email.notice_version))
            reasons.append("email address changed: email awaits confirmation of the new address")
        else:
            choices.append(Choice("channel:email", State.WITHDRAWN, email.notice_version))
            reasons.append("email address removed")
    sms = SnapshotEntry.of(current, "channel:sms")
    if after.phone != before.phone and sms and sms.holds:
        choices.append(Choice("channel:sms", State.WITHDRAWN, sms.notice_version))
        reasons.append("phone number changed: texts stop until the new number is verified")
    return choices, reasons


def erase_customer(
    *,
    customer: Customer,
    source: str,
    actor: str,
    evidence: dict[str, Any] | None = None,
    note: str | None = None,
) -> Customer:
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
        current = rules.current_versions()
        snapshot = Snapshot.objects.filter(customer_id=customer.pk).first()
        withdrawals = [
            Choice(purpose=purpose, state=State.WITHDRAWN, notice_version_id=current[purpose].id)
            for purpose, entry in entries(snapshot.choices if snapshot else {}).items()
            if entry.holds and purpose in current and not rules.is_required_topic(Purpose.parse(purpose))
        ]
        if withdrawals:
            record_choices(
                customer=customer,
                choices=withdrawals,
                provenance=Provenance(
                    source=source, actor=actor, evidence={**(evidence or {}), "reason": "erasure requested"}
                ),
                note=note,
            )
        return erase_identity(customer=customer, at=timezone.now())


class LedgerRewound(Exception):
    """A chain's head is behind a head a checkpoint anchored: events were removed behind the triggers' back."""


def take_ledger_checkpoint(*, now: datetime | None = None) -> LedgerCheckpoint:
    """Anchor every chain's current head in a signed checkpoint (docs/ledger.md).

    The heads are the snapshots' ``last_sequence`` and ``last_hash``, which the write path updates in the same
    transaction as the events; only heads that moved since the last checkpoint are stored again. Refuses,
    naming the customer, when a head went backwards: anchoring it would hide the removal.
    """
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        store.lock_checkpoints(own_transaction=own_transaction)
        rewound = first_rewound_head()
        if rewound is not None:
            raise LedgerRewound(
                f"customer {rewound.customer_id}: the chain's head is at sequence {rewound.last_sequence}, behind "
                f"a head an earlier checkpoint anchored; its newest events were removed (run verify_ledger)."
            )
        tree, events = MerkleRoot(), 0
        heads = Snapshot.objects.filter(last_sequence__gt=0).order_by("customer_id")
        for customer_id, sequence, hash_ in heads.values_list(
            "customer_id", "last_sequence", "last_hash"
        ).iterator(chunk_size=5000):
            tree.add(head_leaf(customer_id, sequence, hash_))
            events += sequence
        taken_at, root = now or timezone.now(), tree.hexdigest()
        signature = sign(
            signed_bytes(taken_at=taken_at, customers=tree.leaves, events=events, root=root),
            settings.LEDGER_CHECKPOINT_KEY,
        )
        checkpoint = LedgerCheckpoint.objects.create(
            taken_at=taken_at, customers=tree.leaves, events=events, root=root, signature=signature
        )
        store.store_moved_heads(checkpoint.pk)
    return checkpoint


@dataclass(frozen=True)
class SentMessage:
    """A sender's report of one message: to whom, on which channel, about which topic, and what it brought."""

    external_id: str
    channel: str
    topic: str
    message_id: str
    sent_at: datetime
    benefit: str = ""


# Senders' clocks drift a little; a report further ahead than this is a mistake, not a send.
MESSAGE_CLOCK_SKEW = timedelta(minutes=5)


def record_messages(*, sender: str, messages: list[SentMessage]) -> set[str]:
    """Keep what a sender reports it sent, once per message id; returns the message ids that were new.

    All or nothing: a message to an unknown or erased customer, on a channel the topic may not use, with an
    unknown benefit kind, sent in the future, or repeating an id within the batch raises ``ValidationError``
    keyed ``<index>/<field>`` and nothing is kept. Message records are not consent: they count towards the
    weekly cap and show the customer what they got, and are erased with the customer.
    """
    rules = catalog_rules()
    kinds = benefit_kinds()
    customers = {
        external_id: (pk, erased_at)
        for external_id, pk, erased_at in Customer.objects.filter(
            external_id__in={message.external_id for message in messages}
        ).values_list("external_id", "pk", "erased_at")
    }
    latest = timezone.now() + MESSAGE_CLOCK_SKEW
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for index, message in enumerate(messages):
        customer = customers.get(message.external_id)
        problems = {
            "external_id": "No customer with this external id." if customer is None else None,
            "channel": None if message.channel in rules.channels else f"Unknown channel {message.channel!r}.",
            "topic": None if message.topic in rules.topics else f"Unknown topic {message.topic!r}.",
            "benefit": None
            if not message.benefit or message.benefit in kinds
            else f"Unknown benefit kind {message.benefit!r}.",
            "sent_at": None if message.sent_at <= latest else "Must not be in the future.",
            "message_id": "The same message id appears twice in one batch."
            if message.message_id in seen
            else None,
        }
        if customer is not None and customer[1] is not None:
            problems["external_id"] = "This customer was erased; nothing more is recorded for them."
        topic = rules.topics.get(message.topic)
        if topic is not None and problems["channel"] is None and message.channel not in topic.channels:
            problems["channel"] = f"The topic {message.topic} does not use {message.channel}."
        seen.add(message.message_id)
        for field, problem in problems.items():
            if problem:
                errors[f"{index}/{field}"] = [problem]
    if errors:
        raise ValidationError(errors)
    return message_records_add(
        records=[
            MessageRecord(
                customer_id=customers[message.external_id][0],
                sender=sender,
                message_id=message.message_id,
                channel=message.channel,
                topic=message.topic,
                benefit=message.benefit,
                sent_at=message.sent_at,
            )
            for message in messages
        ]
    )


def record_inbound_report(
    *, report: InboundReport, decide: Decide | None = None, announce: Announce | None = None
) -> tuple[InboundReport, Recorded | None]:
    """Keep a provider's report (an ``InboundReport``: new, or kept before as received) and record the choices
    it carries, in one transaction: a new report for a source and event id kept before raises
    ``IntegrityError`` and records nothing. ``decide`` says what the report means for the customer's choices as
    the write path locked them (a withdrawal of what they hold); those go through ``record_choices``' own body
    (in this transaction, no savepoint) with the provider as source, ``inbound:<source>`` as actor and the
    provider's event time as captured time, so a report older than the customer's newer choice for a purpose is
    history only (outcome ``stale``). ``announce``, if the permission document changed, runs after commit in
    place of the outbox announcement (``settings.CONSENT_ON_OUTBOX_COMMIT``): the inbound door's priority push of
    a revocation, which fans the outbox out itself, so a STOP is one publish, not two."""
    recorded = None
    with transaction.atomic():
        if decide is not None:
            assert report.customer is not None  # a report carries choices only for a customer it names
            recorded = _record(
                Change(
                    customer_id=report.customer.pk,
                    choices=[],
                    provenance=Provenance(
                        source=report.provider,
                        actor=f"inbound:{report.source_name}",
                        captured_at=min(report.occurred_at, report.received_at),  # never ahead of our clock
                    ),
                    language=report.customer.locale,
                ),
                decide,
                announce,
                partial(_receipt, report),
            )
            if not recorded.events:
                report.outcome = InboundReport.Outcome.UNCHANGED
        if recorded is None or not recorded.events:  # else written with the state
            report.save()
    return report, recorded


def _receipt(
    report: InboundReport, events: list[ConsentEvent], history_only: tuple[ConsentEvent, ...]
) -> InboundReport:
    """The report, completed with the events it recorded: history only (``stale``) when every one of them is."""
    report.recorded_at = events[0].recorded_at
    report.ledger_events = [event.pk for event in events]
    stale = len(history_only) == len(events)
    report.outcome = InboundReport.Outcome.STALE if stale else InboundReport.Outcome.RECORDED
    return report


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
        document = _next_document(locked.snapshot, rules, now, replace(locked, email_undeliverable_at=at))
        _save(locked.snapshot, document, now)
    return document is not None


def report_inferences(*, customer: Customer, inferences: list[dict[str, Any]]) -> bool:
    """What the brand's systems infer about the customer (segments, attributes), reported whole: it replaces the
    earlier report (``apps.customers.services.replace_inferences``: one the customer removed stays removed).
    Not a consent, so no ledger event; but what destinations may receive changed, so under the customer's lock
    the next permission document is written. Each item: ``code``, ``label`` (per language, English required),
    ``source`` and ``purpose``; a bad item raises ``ValidationError`` keyed ``<index>/<field>`` and nothing is
    kept. Returns whether anything changed."""
    rules = catalog_rules()
    _validate_inferences(inferences, rules)
    with transaction.atomic():
        locked = store.lock_customer(customer.pk)
        if locked.erased:
            raise ValidationError(
                {"customer": "This customer was erased; nothing more is recorded for them."}
            )
        now = timezone.now()
        revision = replace_inferences(customer_id=customer.pk, inferences=inferences, at=now)
        if revision is None:
            return False
        _write_profile_document(locked, revision, now)
    return True


def remove_customer_inference(*, customer: Customer, code: str, removal: str) -> bool:
    """The customer's own "this is wrong" / "don't use this" for one inference: kept as removed (a later report
    cannot bring it back) and, through the next permission document, deleted at every destination. Returns
    whether it was in use."""
    if removal not in Inference.Removal.values:
        raise ValidationError({"removal": f"Say why: {' or '.join(Inference.Removal.values)}."})
    with transaction.atomic():
        locked = store.lock_customer(customer.pk)
        now = timezone.now()
        revision = remove_inference(customer_id=customer.pk, code=code, removal=removal, at=now)
        if revision is None:
            return False
        _write_profile_document(locked, revision, now)
    return True


def _write_profile_document(locked: store.Locked, revision: int, now: datetime) -> None:
    rules = catalog_rules(locked.catalog_token)
    document = _next_document(locked.snapshot, rules, now, replace(locked, inferences_revision=revision))
    _save(locked.snapshot, document, now)


INFERENCE_KEYS = ("code", "label", "source", "purpose")
MAX_INFERENCES = 200


def _validate_inferences(inferences: Any, rules: CatalogRules) -> None:
    if not isinstance(inferences, list) or len(inferences) > MAX_INFERENCES:
        raise ValidationError({"inferences": f"Give a list of at most {MAX_INFERENCES} inferences."})
    errors, seen = {}, set()
    for index, item in enumerate(inferences):
        problems = _inference_problems(item, rules)
        if isinstance(item, dict) and item.get("code") in seen:
            problems["code"] = "The same code appears twice."
        seen.add(item.get("code") if isinstance(item, dict) else None)
        errors.update({f"{index}/{field}": [problem] for field, problem in problems.items()})
    if errors:
        raise ValidationError(errors)


def _inference_problems(item: Any, rules: CatalogRules) -> dict[str, str]:
    if not isinstance(item, dict):
        return {"code": "Each inference is an object with code, label, source and purpose."}
    problems = {key: f"Unknown field {key!r}." for key in item if key not in INFERENCE_KEYS}
    code = item.get("code")
    if (
        not isinstance(code, str)
        or not code
        or len(code) > 60
        or not code.replace("-", "").replace("_", "").isalnum()
    ):
        problems["code"] = "A code: letters, digits, - and _, up to 60."
    label = item.get("label")
    if (
        not isinstance(label, dict)
        or not all(isinstance(text, str) and 0 < len(text.strip()) <= 200 for text in label.values())
        or not label.get("en")
        or set(label) - dict(settings.LANGUAGES).keys()
    ):
        problems["label"] = 'Per language, English required, up to 200 characters each: {"en": …, "de": …}.'
    source = item.get("source")
    if not isinstance(source, str) or not 0 < len(source.strip()) <= 120:
        problems["source"] = "Where it comes from, in plain words (up to 120 characters)."
    purpose = item.get("purpose")
    if not isinstance(purpose, str) or not rules.knows(purpose):
        problems["purpose"] = "The purpose it serves: one of the catalog's purposes, e.g. personalization."
    return problems
