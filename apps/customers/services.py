from collections.abc import Iterable
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.counters import count_in_window, forget_counts

from .models import (
    Customer,
    CustomerSession,
    EvidenceNote,
    Exposure,
    HeldMessage,
    MessageRecord,
    new_link_key,
)

# Every cache entry about one customer is named here, so that erasure can forget them all.
CACHE_NAMES = ("sms-code", "sms-sent", "email-confirmation-sent")


def customer_cache_key(customer: Customer, name: str) -> str:
    if name not in CACHE_NAMES:
        raise ValueError(f"Unknown customer cache entry {name!r}: add it to CACHE_NAMES.")
    return f"customers:{customer.pk}:{name}"


def hourly_limit_reached(customer: Customer, name: str, limit: int) -> bool:
    """Count one more in the customer's hourly window for ``name``; whether that is past ``limit``."""
    return count_in_window(customer_cache_key(customer, name), 3600) > limit


def remember_session(*, customer: Customer, session) -> None:
    """Note that ``session`` holds something of the customer's, so that ``end_sessions`` can end it."""
    if session.session_key is None:
        session.save()  # a new session has no key until it is first saved
    CustomerSession.objects.get_or_create(customer=customer, session_key=session.session_key)
    # Expired sessions are gone from the store anyway; forget their keys as we go.
    CustomerSession.objects.filter(
        customer=customer, created_at__lt=timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    ).delete()


def end_sessions(*, customer: Customer) -> int:
    """End every session that holds something of the customer's (link, code request, code login)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(CustomerSession.objects.filter(customer=customer).values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    CustomerSession.objects.filter(customer=customer).delete()
    return len(keys)


def customer_upsert(
    *, external_id: str, email: str = "", phone: str = "", name: str = "", locale: str = "en"
):
    """Create the customer or update their identity; returns ``(customer, created)``.

    What was proved for the old address or number does not pass to a new one: a new phone number is not
    verified, and a new email address ends the login account of the old one (allauth knows it by the old
    address; the next login code sent to the new address makes a fresh one). Consent given for them is the
    ledger's: update a customer who may have some through ``apps.consent.services.change_identity``.
    Raises ``ValidationError`` naming each bad field, and then writes nothing.
    """
    customer = Customer.objects.filter(external_id=external_id).first() or Customer(external_id=external_id)
    if customer.erased_at:
        raise ValidationError(
            {"external_id": "This customer was erased at their request; their identity is not taken back in."}
        )
    created = customer.pk is None
    old_email, old_phone = customer.email, customer.phone
    customer.email = email.strip().lower()
    customer.phone = phone.strip()
    customer.name = name.strip()
    customer.locale = locale
    customer.full_clean()
    if customer.phone != old_phone:
        customer.phone_verified_at = None
    if customer.email != old_email:
        customer.email_undeliverable_at = (
            None  # the bounce was the old address's; the new one must be confirmed
        )
    old_login_account = customer.user_id if customer.email != old_email else None
    if old_login_account:
        customer.user = None
    customer.save()
    if old_login_account:
        get_user_model().objects.filter(pk=old_login_account).delete()
    return customer, created


def create_customers(*, identities: list[dict]) -> list[Customer]:
    """Create many new customers in one statement (an import), each checked by the same field rules as
    ``customer_upsert``; raises ``ValidationError`` and creates none if any is bad. The callers pass external
    ids not in use (the unique index refuses the batch otherwise). A new customer has no consent yet, so no
    ledger event is due."""
    customers = []
    for identity in identities:
        customer = Customer(
            external_id=identity["external_id"],
            email=identity.get("email", "").strip().lower(),
            phone=identity.get("phone", "").strip(),
            name=identity.get("name", "").strip(),
            locale=identity.get("locale", "en"),
        )
        customer.full_clean(validate_unique=False)  # the unique index checks all at once
        customers.append(customer)
    return Customer.objects.bulk_create(customers)


def ensure_login_account(*, customer: Customer):
    """The login account linked to the customer, created on first use (no password: email codes only)."""
    if customer.user_id:
        return customer.user
    user = get_user_model()(username=f"customer-{customer.pk}", email=customer.email)
    user.set_unusable_password()
    user.save()
    customer.user = user
    customer.save(update_fields=["user"])
    return user


def clean_phone(phone: str) -> str:
    """``phone`` as ``customer_upsert`` would store it, checked by the model's own rules (``ValidationError``)."""
    phone = phone.strip()
    Customer._meta.get_field("phone").run_validators(phone)
    return phone


def mark_phone_verified(*, customer: Customer) -> None:
    customer.phone_verified_at = timezone.now()
    customer.save(update_fields=["phone_verified_at"])


def add_evidence_note(*, customer_id: int, text: str) -> EvidenceNote:
    """Keep free text that came with a change (``record_choices`` calls this and puts only the id in the ledger)."""
    return EvidenceNote.objects.create(customer_id=customer_id, text=text)


def mark_email_undeliverable(*, customer: Customer, at) -> None:
    """Note that the address bounced or was cleaned (by a sender or an old platform): no consent changes."""
    customer.email_undeliverable_at = at
    customer.save(update_fields=["email_undeliverable_at"])


def erase_identity(*, customer: Customer, at) -> Customer:
    """Blank the customer's personal fields and mark them erased; the surrogate key and external id stay.

    Their login account (it holds their email) is deleted, so are the records of messages sent to them and of
    the notices shown to them, their link key is replaced, which revokes every link sent to them, the free text
    of their evidence notes blanked, their sessions ended (a code login's session holds the address) and their cache entries forgotten. The
    external id is the brand's own pseudonymous key: it lets the brand's systems match the erasure. Call it
    through ``apps.consent.services.erase_customer``, which first withdraws what the
    customer allowed.
    """
    login_account = customer.user_id
    Customer.objects.filter(pk=customer.pk).update(
        email="",
        phone="",
        name="",
        phone_verified_at=None,
        email_undeliverable_at=None,
        user=None,
        link_key=new_link_key(),
        erased_at=at,
    )
    EvidenceNote.objects.filter(customer=customer).update(text="", erased_at=at)
    MessageRecord.objects.filter(customer_id=customer.pk).delete()
    Exposure.objects.filter(customer_id=customer.pk).delete()
    if login_account:
        get_user_model().objects.filter(pk=login_account).delete()
    end_sessions(customer=customer)
    keys = [customer_cache_key(customer, name) for name in CACHE_NAMES]
    cache.delete_many(keys)
    forget_counts(keys)
    HeldMessage.objects.filter(customer_id=customer.pk).update(body="")
    customer.refresh_from_db()
    return customer


def message_records_add(*, records: list[MessageRecord]) -> set[str]:
    """Store the reported messages, each once per sender and message id; returns the ids that were new.

    A retry of a whole batch, or a batch that repeats an earlier message, adds nothing for what is known.
    """
    senders = {record.sender for record in records}
    known = set(
        MessageRecord.objects.filter(
            sender__in=senders, message_id__in=[record.message_id for record in records]
        ).values_list("sender", "message_id")
    )
    new = [record for record in records if (record.sender, record.message_id) not in known]
    # A concurrent report of the same message loses quietly on the unique constraint: it is recorded once.
    MessageRecord.objects.bulk_create(new, ignore_conflicts=True)
    return {record.message_id for record in new}


def hold_message(*, customer: Customer, channel: str, body: str, origin: str, received_at, deadline_at):
    """Keep a message staff must read before anything is recorded (``HeldMessage``)."""
    return HeldMessage.objects.create(
        customer=customer,
        channel=channel,
        body=body,
        origin=origin,
        received_at=received_at,
        deadline_at=deadline_at,
    )


def resolve_held_message(*, message: HeldMessage, staff, resolution: str) -> bool:
    """Mark a held message decided; returns False if someone else decided it first."""
    return bool(
        HeldMessage.objects.filter(pk=message.pk, resolved_at=None).update(
            resolved_at=timezone.now(), resolved_by=staff, resolution=resolution
        )
    )


def record_exposures(
    *, customer_id: int, notice_version_ids: Iterable[int], surface: str, at: datetime
) -> None:
    """Note that these notice versions were shown to the customer on ``surface`` at ``at`` (one insert).

    Raises ``ValueError`` for a surface that is not one of ``Exposure.Surface``, and then writes nothing.
    """
    if surface not in Exposure.Surface.values:
        raise ValueError(
            f"Unknown exposure surface {surface!r}: one of {', '.join(Exposure.Surface.values)}."
        )
    Exposure.objects.bulk_create(
        [
            Exposure(customer_id=customer_id, notice_version_id=version_id, surface=surface, shown_at=at)
            for version_id in dict.fromkeys(notice_version_ids)
        ]
    )


def purge_exposures(*, now: datetime | None = None) -> int:
    """Delete the exposures older than ``EXPOSURE_RETENTION_DAYS``; returns how many.

    Version by version, so each delete walks the (notice version, shown at) index rather than the table.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXPOSURE_RETENTION_DAYS)
    versions = Exposure._meta.get_field("notice_version").related_model._default_manager.values_list(
        "pk", flat=True
    )
    return sum(
        Exposure.objects.filter(notice_version_id=version_id, shown_at__lt=cutoff).delete()[0]
        for version_id in list(versions)
    )
