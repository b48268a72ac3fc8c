"""SMS: verify the number before the first text.

A number the customer types in is only held with its code; it reaches their record (through
``change_identity``, so the ledger sees what a new number does to text consent) once its code comes back."""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from apps.catalog.selectors import CatalogRules, catalog_rules
from apps.consent.rules import Choice, State
from apps.consent.services import (
    change_identity,
)
from apps.customers.models import Customer
from apps.customers.services import clean_phone, customer_cache_key, hourly_limit_reached, mark_phone_verified

from ..selectors import snapshot_choices
from .visits import Saved, Source, Visit, record, shown_version


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
    version_id = shown_version(data, "channel:sms", rules or catalog_rules())
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
