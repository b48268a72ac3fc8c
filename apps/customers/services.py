from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import Customer, HeldMessage, new_link_key


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


def mark_email_undeliverable(*, customer: Customer, at) -> None:
    """Note that the address bounced or was cleaned (by a sender or an old platform): no consent changes."""
    customer.email_undeliverable_at = at
    customer.save(update_fields=["email_undeliverable_at"])


def erase_identity(*, customer: Customer, at) -> Customer:
    """Blank the customer's personal fields and mark them erased; the surrogate key and external id stay.

    Their login account (it holds their email) is deleted and their link key replaced, which revokes every
    link sent to them. The external id is the brand's own pseudonymous key: it lets the brand's systems match
    the erasure. Call it through ``apps.consent.services.erase_customer``, which first withdraws what the
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
    if login_account:
        get_user_model().objects.filter(pk=login_account).delete()
    HeldMessage.objects.filter(customer_id=customer.pk).update(body="")
    customer.refresh_from_db()
    return customer


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
