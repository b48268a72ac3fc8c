"""What the console changes: the staff access log, changes recorded on a customer's behalf, erasure requests,
imports uploaded by a privacy officer.

Every change to a preference goes through ``apps.consent.services.record_choices`` with the agent as actor.
"""

import hashlib
import secrets
import shutil
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urljoin

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.catalog.selectors import catalog_rules
from apps.consent.evidence import HOW_ASKED
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import Provenance, withdrawal_choices
from apps.consent.services import (
    Recorded,
    erase_customer,
    evidence_hash,
    record_choices,
    send_confirmation_if_requested,
)
from apps.customers.models import Customer, HeldMessage
from apps.customers.services import resolve_held_message
from apps.delivery.models import Delivery
from apps.delivery.services import replay_dead
from apps.imports.services import start_import
from apps.imports.tasks import run_import

from .models import StaffAccess, StaffInvite

NOTE_MAX_LENGTH = 500


def record_staff_access(
    *, staff, what: str, customer: Customer | None = None, detail: str = ""
) -> StaffAccess:
    """Log that ``staff`` opened this customer's data (or searched): who, when, what."""
    return StaffAccess.objects.create(
        staff=staff, customer=customer, what=what, detail=detail[:200], at=timezone.now()
    )


def record_search(*, staff, query: str, shown: list) -> StaffAccess:
    """A search is logged by a keyed hash of its query: provable later, yet no email or phone in the log.

    Each customer on the page of results gets a row of their own: who saw them is in their access history.
    """
    detail = f"query-hash={evidence_hash(query.strip().lower())[:32]}"
    record_customers_shown(
        staff=staff, what=StaffAccess.What.SEARCH_RESULT, customer_ids=shown, detail=detail
    )
    return record_staff_access(
        staff=staff, what=StaffAccess.What.SEARCH, detail=f"{detail} results={len(shown)}"
    )


def record_customers_shown(*, staff, what: str, customer_ids, detail: str = "") -> None:
    """One access-log row per customer shown at once (a page of search results, an admin list)."""
    now = timezone.now()
    StaffAccess.objects.bulk_create(
        StaffAccess(staff=staff, customer_id=pk, what=what, detail=detail[:200], at=now)
        for pk in dict.fromkeys(customer_ids)
    )


def record_refused_change(*, staff, customer: Customer, detail: str) -> StaffAccess:
    """A change that was refused still says who tried what: the fields or purposes in error, or the target;
    never the values."""
    return record_staff_access(
        staff=staff, customer=customer, what=StaffAccess.What.REFUSED_CHANGE, detail=detail
    )


def staff_actor(staff) -> str:
    return f"staff:{staff.pk}"


def _request_evidence(*, how_asked: str, note: str) -> dict:
    """How the customer asked, for the ledger; the note itself goes to ``record_choices(note=…)``, which keeps
    it out of the ledger in an erasable table."""
    errors = {}
    note = (note or "").strip()
    if how_asked not in HOW_ASKED:
        errors["how_asked"] = f"Say how the customer asked: {', '.join(HOW_ASKED)}."
    if not note:
        errors["note"] = "A note is required: what did the customer ask for?"
    elif len(note) > NOTE_MAX_LENGTH:
        errors["note"] = f"Keep the note under {NOTE_MAX_LENGTH} characters."
    if errors:
        raise ValidationError(errors)
    return {"how_asked": how_asked}


def record_change_on_behalf(
    *, staff, customer: Customer, choices: list, how_asked: str, note: str, captured_at=None
) -> Recorded:
    """Record what the customer asked for by phone, letter, email or in person, with the agent as actor.

    Raises ``ValidationError`` (by field or by purpose) and writes nothing if the request is incomplete, or if
    the customer was erased (the write path refuses that for every door).
    """
    evidence = _request_evidence(how_asked=how_asked, note=note)
    with transaction.atomic():
        recorded = record_choices(
            customer=customer,
            choices=choices,
            provenance=Provenance(
                source=ConsentEvent.Source.SUPPORT_AGENT,
                actor=staff_actor(staff),
                evidence=evidence,
                captured_at=captured_at,
            ),
            language=customer.locale,
            note=note,
        )
        send_confirmation_if_requested(recorded, customer, customer.locale)
        record_staff_access(
            staff=staff,
            customer=customer,
            what=StaffAccess.What.RECORDED_CHANGE,
            detail=" ".join(event.purpose for event in recorded.events),
        )
    return recorded


@dataclass(frozen=True)
class Erasure:
    customer: Customer
    already_erased: bool


def fulfil_erasure_request(*, staff, customer: Customer, how_asked: str, note: str) -> Erasure:
    """Erase the customer's personal data on their request (``apps.consent.services.erase_customer``)."""
    evidence = _request_evidence(how_asked=how_asked, note=note)
    already = customer.erased_at is not None
    with transaction.atomic():
        customer = erase_customer(
            customer=customer,
            source=ConsentEvent.Source.SUPPORT_AGENT,
            actor=staff_actor(staff),
            evidence=evidence,
            note=note,
        )
        record_staff_access(staff=staff, customer=customer, what=StaffAccess.What.ERASURE)
    return Erasure(customer=customer, already_erased=already)


def retry_delivery(*, staff, customer: Customer, delivery_id: int) -> bool:
    """Put one of the customer's dead deliveries back in line (the delivery sweeper sends it within seconds).

    Returns whether there was such a dead delivery; a delivery of another customer is never touched.
    """
    with transaction.atomic():
        dead = Delivery.objects.filter(pk=delivery_id, customer=customer, status=Delivery.Status.DEAD)
        if not dead.exists():
            return False
        replay_dead(delivery_ids=[delivery_id])
        record_staff_access(
            staff=staff,
            customer=customer,
            what=StaffAccess.What.RETRY_DELIVERY,
            detail=f"delivery={delivery_id}",
        )
    return True


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_staff(*, staff) -> str:
    """A fresh enrolment token for a staff account without an authenticator; earlier unused ones stop working.

    Raises ``ValidationError`` for an account that is not staff or already has an authenticator (it must be
    removed in the admin first, so a stolen password cannot replace it).
    """
    if not (staff.is_active and staff.is_staff):
        raise ValidationError("Only active staff accounts are invited.")
    if Authenticator.objects.filter(user=staff).exists():
        raise ValidationError(f"{staff} has an authenticator already; remove it in the admin first.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        StaffInvite.objects.filter(staff=staff, used_at__isnull=True).update(expires_at=now)
        StaffInvite.objects.create(
            staff=staff,
            token_hash=_token_hash(token),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.STAFF_INVITE_MAX_AGE),
        )
    return token


def enrolment_url(token: str) -> str:
    return urljoin(settings.SITE_URL, reverse("support:enrol", args=[token]))


def open_invite(*, token: str) -> StaffInvite | None:
    """The invite the token stands for, if it is unused and unexpired."""
    return (
        StaffInvite.objects.filter(
            token_hash=_token_hash(token), used_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("staff")
        .first()
    )


def use_invite(*, invite: StaffInvite) -> bool:
    """Spend the invite once: returns whether this call did (a second, concurrent one gets ``False``)."""
    return bool(
        StaffInvite.objects.filter(pk=invite.pk, used_at__isnull=True, expires_at__gt=timezone.now()).update(
            used_at=timezone.now()
        )
    )


REVOCATION, NOT_REVOCATION = "revocation", "not_revocation"


def decide_held_message(*, staff, message: HeldMessage, decision: str) -> Recorded | None:
    """One click on a held text: read as a revocation, it stops the channel's marketing through the on-behalf
    flow (the agent as actor, "by text message"); otherwise it is only marked decided. Returns what was
    recorded, if anything. A message someone else decided meanwhile changes nothing."""
    if decision not in (REVOCATION, NOT_REVOCATION):
        raise ValidationError({"decision": "Decide revocation or not_revocation."})
    with transaction.atomic():
        if not resolve_held_message(message=message, staff=staff, resolution=decision):
            return None
        record_staff_access(
            staff=staff,
            customer=message.customer,
            what=StaffAccess.What.REVIEW_DECISION,
            detail=f"held={message.pk} decision={decision}",
        )
        if decision == NOT_REVOCATION:
            return None
        snapshot = Snapshot.objects.filter(customer_id=message.customer_id).first()
        choices = withdrawal_choices(snapshot.choices if snapshot else {}, catalog_rules(), message.channel)
        if not choices:
            return None
        return record_change_on_behalf(
            staff=staff,
            customer=message.customer,
            choices=choices,
            how_asked="text",
            note=f"The customer's text (held message {message.pk}) read by staff as a request to stop.",
        )


def start_upload_import(*, staff, upload, mapping, fmt: str, source: str, dry_run: bool, exported_at=None):
    """Keep the uploaded export (and mapping file) under ``IMPORT_UPLOAD_DIR``, start its run and queue the task
    that works it once this transaction commits. ``ValidationError`` (format, source's legacy notices, mapping,
    a file that does not read) and nothing kept if anything is wrong."""
    folder = Path(settings.IMPORT_UPLOAD_DIR) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = _keep(folder, upload)
    map_path = _keep(folder, mapping) if mapping else None
    try:
        with transaction.atomic():
            run = start_import(
                path=str(path),
                fmt=fmt,
                source=source,
                map_path=str(map_path) if map_path else None,
                dry_run=dry_run,
                exported_at=exported_at,
                started_by=staff_actor(staff),
            )
            record_staff_access(
                staff=staff,
                what=StaffAccess.What.IMPORT,
                detail=f"run={run.pk} format={fmt} source={source} dry_run={dry_run}",
            )
            transaction.on_commit(
                partial(
                    run_import.delay,
                    run.pk,
                    str(path),
                    map_path and str(map_path),
                    exported_at.isoformat() if exported_at else None,
                )
            )
    except ValidationError:
        shutil.rmtree(folder)
        raise
    return run


def _keep(folder: Path, upload) -> Path:
    # Only the name's last part, so an uploaded name cannot reach outside the folder.
    path = folder / (Path(upload.name).name or "upload")
    with open(path, "wb") as file:
        for chunk in upload.chunks():
            file.write(chunk)
    return path
