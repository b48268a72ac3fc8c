"""Signed links for one customer: the preference page, email confirmation and one-click unsubscribe.

A token is ``<customer id>:<timestamp>:<signature>`` from ``TimestampSigner``. The signature's salt holds the
link's kind and the customer's ``link_key``, so rotating the key revokes every link sent so far, and a token of
one kind (or for one customer) never opens another. Confirmation links also sign the email address they
confirm, so a link stops working once the address changes.

Unsubscribe tokens are the exception: RFC 8058 expects the one-click link in every mail already sent to keep
working, through a key rotation and an erasure too, so they sign only the customer and the list (with their
own salt). They can do that one thing, unsubscribe from that list, and open nothing else, not even the page.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urljoin

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.encoding import force_bytes

from .models import Customer, new_link_key
from .services import end_sessions

PAGE = "page"
CONFIRM_EMAIL = "confirm-email"
UNSUBSCRIBE = "unsubscribe"
KINDS = (PAGE, CONFIRM_EMAIL, UNSUBSCRIBE)


class BadLink(Exception):
    """The link is malformed, tampered with, expired, revoked, or for a customer who was erased."""


def _salt(kind: str, scope: str = "", link_key: str = "", email: str = "") -> str:
    if kind not in KINDS:
        raise ValueError(f"Unknown link kind {kind!r}.")
    if kind == UNSUBSCRIBE:
        return f"candor.unsubscribe.{scope}"
    extra = email if kind == CONFIRM_EMAIL else scope
    return f"candor.customer-link.{kind}.{link_key}.{extra}"


def _signer(customer: Customer, kind: str, scope: str = "") -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_salt(kind, scope, customer.link_key, customer.email))


def max_age(kind: str) -> int:
    return {
        PAGE: settings.CUSTOMER_LINK_MAX_AGE,
        CONFIRM_EMAIL: settings.EMAIL_CONFIRMATION_MAX_AGE,
        UNSUBSCRIBE: settings.UNSUBSCRIBE_LINK_MAX_AGE,
    }[kind]


def make_token(customer: Customer, kind: str = PAGE, scope: str = "") -> str:
    return _signer(customer, kind, scope).sign(str(customer.pk))


def read_token(token: str, kind: str = PAGE, scope: str = "") -> Customer:
    """The customer the token was made for, or ``BadLink``; an unsubscribe token may name an erased one."""
    customer_id, _, _ = token.partition(":")
    if not (customer_id.isascii() and customer_id.isdigit() and len(customer_id) <= 18):
        raise BadLink("malformed")
    customers = (
        Customer.objects.all() if kind == UNSUBSCRIBE else Customer.objects.filter(erased_at__isnull=True)
    )
    customer = customers.filter(pk=int(customer_id)).first()
    if customer is None:
        raise BadLink("no such customer")
    try:
        value = _unsign(customer, kind, scope, token)
    except signing.SignatureExpired as error:
        raise BadLink("expired") from error
    except signing.BadSignature as error:
        raise BadLink("bad signature") from error
    if value != str(customer.pk):
        raise BadLink("bad value")
    return customer


def _unsign(customer: Customer, kind: str, scope: str, token: str) -> str:
    try:
        return _signer(customer, kind, scope).unsign(token, max_age=max_age(kind))
    except signing.SignatureExpired:
        raise
    except signing.BadSignature:
        if kind != UNSUBSCRIBE:
            raise
        # Unsubscribe links mailed before they had their own salt were signed with the link key; they keep
        # working until they expire, unless that key has rotated since. Remove UNSUBSCRIBE_LINK_MAX_AGE after
        # this change is deployed.
        legacy = signing.TimestampSigner(salt=f"candor.customer-link.{kind}.{customer.link_key}.{scope}")
        return legacy.unsign(token, max_age=max_age(kind))


def absolute_url(path: str) -> str:
    return urljoin(settings.SITE_URL, path)


# Stands for the token while a URL pattern is reversed once for a whole batch (tokens need no quoting).
_PLACEHOLDER = "token-slot-0"


class BatchLinks:
    """Links for many customers at once (a campaign batch): each URL pattern is reversed once, every token is
    signed at the batch's one timestamp, and the unsubscribe key (salted by scope alone) is derived once per
    scope, where Django's signer derives the key again for every token.

    The tokens are ``TimestampSigner``'s, byte for byte (``read_token`` checks them with it): the URLs are
    those made one at a time."""

    def __init__(self) -> None:
        self._page = absolute_url(reverse("preferences:link", args=[_PLACEHOLDER]))
        self._unsubscribe: dict[str, tuple[str, bytes]] = {}
        self._timestamp = signing.b62_encode(int(time.time()))
        self._secret = force_bytes(settings.SECRET_KEY)

    def page_url(self, customer_id: int, link_key: str) -> str:
        key = _signing_key(_salt(PAGE, link_key=link_key), self._secret)
        return self._page.replace(_PLACEHOLDER, self._token(key, customer_id))

    def unsubscribe_url(self, customer_id: int, scope: str) -> str:
        """``scope`` is what the mail was about: ``channel:email`` (the whole list) or ``topic:<slug>``."""
        if scope not in self._unsubscribe:
            path = reverse("preferences:unsubscribe", args=[scope, _PLACEHOLDER])
            key = _signing_key(_salt(UNSUBSCRIBE, scope), self._secret)
            self._unsubscribe[scope] = (absolute_url(path), key)
        template, key = self._unsubscribe[scope]
        return template.replace(_PLACEHOLDER, self._token(key, customer_id))

    def _token(self, key: bytes, customer_id: int) -> str:
        # TimestampSigner.sign: "<value>:<timestamp>", then ":" and its base64 HMAC-SHA256.
        value = f"{customer_id}:{self._timestamp}"
        return f"{value}:{signing.b64_encode(hmac.digest(key, value.encode(), 'sha256')).decode()}"


def _signing_key(salt: str, secret: bytes) -> bytes:
    """The HMAC key Django's signer derives for ``salt`` (``salted_hmac``: SHA-256 of salt, "signer", secret)."""
    return hashlib.sha256(f"{salt}signer".encode() + secret).digest()


def page_url(customer: Customer) -> str:
    return BatchLinks().page_url(customer.pk, customer.link_key)


def confirm_email_url(customer: Customer) -> str:
    return absolute_url(reverse("preferences:confirm_email", args=[make_token(customer, CONFIRM_EMAIL)]))


def unsubscribe_url(customer: Customer, scope: str) -> str:
    return BatchLinks().unsubscribe_url(customer.pk, scope)


@dataclass(frozen=True)
class ListUnsubscribeHeaders:
    list_unsubscribe: str
    list_unsubscribe_post: str = "List-Unsubscribe=One-Click"

    def as_dict(self) -> dict[str, str]:
        return {
            "List-Unsubscribe": self.list_unsubscribe,
            "List-Unsubscribe-Post": self.list_unsubscribe_post,
        }


def list_unsubscribe_headers(customer: Customer, scope: str = "channel:email") -> ListUnsubscribeHeaders:
    """The RFC 8058 header values a mailer adds to a message for this customer about ``scope``."""
    return unsubscribe_headers_for(unsubscribe_url(customer, scope))


def unsubscribe_headers_for(url: str) -> ListUnsubscribeHeaders:
    """The header values for an unsubscribe URL already made (so a message's URL and header carry one token)."""
    return ListUnsubscribeHeaders(list_unsubscribe=f"<{url}>")


def rotate_link_key(customer: Customer) -> None:
    """Revoke every link sent to this customer so far and end their sessions (link and code login alike).

    One-click unsubscribe links keep working: they open nothing but the unsubscribe itself."""
    customer.link_key = new_link_key()
    customer.save(update_fields=["link_key"])
    end_sessions(customer=customer)
