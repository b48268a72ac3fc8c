"""Each provider's request, checked the provider's way and read into plain ``Report``s.

Authenticity: Twilio with the ``twilio`` package's ``RequestValidator``; SendGrid's ECDSA P-256 signature over
timestamp + raw body with the ``sendgrid`` package's ``EventWebhook`` helper; Standard Webhooks with ``standardwebhooks``;
Postmark's basic auth, Mailchimp's URL secret and Braze's bearer token by constant-time comparison of hashes.
"""

import base64
import enum
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from sendgrid.helpers.eventwebhook import EventWebhook
from standardwebhooks import Webhook, WebhookVerificationError
from twilio.request_validator import RequestValidator

from apps.consent.models import (
    GENERIC_COMPLAINED,
    MAILCHIMP_ABUSE,
    POSTMARK_SPAM_COMPLAINT,
    SENDGRID_SPAM_REPORT,
)

from .keywords import Intent, classify
from .models import InboundSource

Kind = InboundSource.Kind


class Refused(Exception):
    """The caller did not prove it is the configured provider (401), or sent what cannot be read (400)."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


class Action(enum.StrEnum):
    WITHDRAW = "withdraw"  # the customer unsubscribed: the mapped scope stops
    COMPLAINT = "complaint"  # marked as spam: all marketing on the channel stops
    REGRANT = "regrant"  # the customer's own "start again"
    BOUNCE = "bounce"  # the address does not work: a deliverability flag, not consent
    HELP = "help"
    REVIEW = "review"  # may be a revocation; staff decide
    ECHO = "echo"  # a change Candor itself pushed, reported back
    IGNORE = "ignore"


@dataclass(frozen=True)
class Report:
    event_id: str
    kind: str
    action: Action
    occurred_at: datetime
    scope: str = ""
    channel: str = ""  # when the provider names it (Braze); otherwise the source's channel
    email: str = ""
    phone: str = ""
    external_id: str = ""
    body: str = ""  # only for REVIEW: the customer's words, for staff (never the ledger)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _matches(source: InboundSource, offered: str) -> bool:
    return bool(source.secret_hash) and hmac.compare_digest(secret_hash(offered), source.secret_hash)


def _epoch(value) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError) as error:
        raise Refused(f"Unreadable timestamp {value!r}.", 400) from error


def _json(body: bytes):
    try:
        return json.loads(body)
    except ValueError as error:
        raise Refused("The body is not JSON.", 400) from error


# Twilio Messaging ---------------------------------------------------------------------------------------

OPT_OUT_TYPES = {"STOP": Action.WITHDRAW, "START": Action.REGRANT, "HELP": Action.HELP}
INTENTS = {
    Intent.STOP: Action.WITHDRAW,
    Intent.START: Action.REGRANT,
    Intent.HELP: Action.HELP,
    Intent.REVIEW: Action.REVIEW,
    Intent.OTHER: Action.IGNORE,
}


def twilio_reports(source: InboundSource, *, url: str, params: dict, signature: str, now) -> list[Report]:
    """An incoming message. Twilio signs the URL it was configured with (``SITE_URL`` + path) and the POST
    parameters; ``OptOutType`` comes only with Advanced Opt-Out, else the body is classified here."""
    if not signature or not RequestValidator(source.signing_key).validate(url, params, signature):
        raise Refused("X-Twilio-Signature does not verify.")
    if not params.get("MessageSid") or not params.get("From"):
        raise Refused("MessageSid and From are required.", 400)
    body = params.get("Body", "")
    opt_out = params.get("OptOutType", "").upper()
    if opt_out in OPT_OUT_TYPES:
        action, kind = OPT_OUT_TYPES[opt_out], opt_out
    else:
        intent = classify(body)
        action, kind = INTENTS[intent], f"text:{intent}"
    return [
        Report(
            event_id=params["MessageSid"],
            kind=kind,
            action=action,
            occurred_at=now,  # Twilio sends no time with an incoming message: it posts as the text arrives
            scope=params.get("MessagingServiceSid") or params.get("To", ""),
            phone=params["From"],
            body=body if action == Action.REVIEW else "",
        )
    ]


# SendGrid Event Webhook ---------------------------------------------------------------------------------

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def sendgrid_public_key(key: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER, no PEM armour), or as PEM; ``ValueError`` saying
    what is wrong otherwise."""
    key = key.strip()
    if not key.startswith("-----"):
        key = f"-----BEGIN PUBLIC KEY-----\n{key}\n-----END PUBLIC KEY-----"
    try:
        public = serialization.load_pem_public_key(key.encode())
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ValueError(
            "Not a public key: paste the Event Webhook's verification key from SendGrid (base64, or PEM)."
        ) from error
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise ValueError(
            "SendGrid's verification key is an ECDSA P-256 public key; this is another kind of key."
        )
    return public


def verify_sendgrid(public_key: str, *, body: bytes, signature: str, timestamp: str) -> bool:
    try:
        return EventWebhook().verify_signature(
            body.decode(), signature, timestamp, public_key=sendgrid_public_key(public_key)
        )
    except ValueError:  # an unreadable key, signature (base64) or body (UTF-8)
        return False


SENDGRID_ACTIONS = {
    "unsubscribe": Action.WITHDRAW,
    "group_unsubscribe": Action.WITHDRAW,
    "group_resubscribe": Action.REGRANT,
    SENDGRID_SPAM_REPORT: Action.COMPLAINT,
}


def sendgrid_reports(source: InboundSource, *, body: bytes, headers, now) -> list[Report]:
    signature, timestamp = headers.get(SENDGRID_SIGNATURE, ""), headers.get(SENDGRID_TIMESTAMP, "")
    if not (signature and timestamp) or not verify_sendgrid(
        source.public_key, body=body, signature=signature, timestamp=timestamp
    ):
        raise Refused("The Event Webhook signature does not verify.")
    if abs((now - _epoch(timestamp)).total_seconds()) > settings.INBOUND_SIGNATURE_TOLERANCE_SECONDS:
        raise Refused("The signed timestamp is too old: a replay is refused.")
    events = _json(body)
    if not isinstance(events, list):
        raise Refused("SendGrid posts a JSON array of events.", 400)
    reports = []
    for event in events:
        kind = event.get("event", "") if isinstance(event, dict) else ""
        action = SENDGRID_ACTIONS.get(kind, Action.IGNORE)
        if kind == "bounce" and event.get("type", "bounce") == "bounce":
            action = Action.BOUNCE  # "blocked" is a soft bounce: nothing to flag
        if action == Action.IGNORE or not event.get("sg_event_id"):
            continue
        group = event.get("asm_group_id")
        reports.append(
            Report(
                event_id=str(event["sg_event_id"]),
                kind=kind,
                action=action,
                occurred_at=_epoch(event.get("timestamp")),
                scope=str(group) if group is not None and kind.startswith("group_") else "",
                email=event.get("email", ""),
            )
        )
    return reports


# Postmark SubscriptionChange ------------------------------------------------------------------------------


def postmark_reports(source: InboundSource, *, body: bytes, authorization: str, now) -> list[Report]:
    scheme, _, encoded = authorization.partition(" ")
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        user, password = "", ""
    if (
        scheme.lower() != "basic"
        or not hmac.compare_digest(user, source.username)
        or not _matches(source, password)
    ):
        raise Refused("Basic authentication failed.")
    change = _json(body)
    if not isinstance(change, dict) or change.get("RecordType") != "SubscriptionChange":
        return []
    by_recipient = change.get("Origin") == "Recipient"
    kind = f"{'suppressed' if change.get('SuppressSending') else 'reactivated'}:{change.get('SuppressionReason', '')}"
    if kind == POSTMARK_SPAM_COMPLAINT:
        action = Action.COMPLAINT
    elif change.get("SuppressSending"):
        reason = str(change.get("SuppressionReason"))
        action = {"HardBounce": Action.BOUNCE}.get(reason, Action.WITHDRAW if by_recipient else Action.IGNORE)
    else:
        # Reactivated: only the recipient's own resubscribe is a choice; the brand's admin lifting a
        # suppression in Postmark does not consent for them.
        action = Action.REGRANT if by_recipient else Action.IGNORE
    try:
        occurred_at = datetime.fromisoformat(change["ChangedAt"])
    except (KeyError, TypeError, ValueError) as error:
        raise Refused("ChangedAt must be an ISO 8601 time.", 400) from error
    return [
        Report(
            event_id=f"{change.get('MessageID', '')}@{change['ChangedAt']}",
            kind=kind,
            action=action,
            occurred_at=occurred_at,
            scope=change.get("MessageStream", ""),
            email=change.get("Recipient", ""),
        )
    ]


# Mailchimp list webhook -------------------------------------------------------------------------------------


def check_mailchimp_secret(source: InboundSource, secret: str) -> None:
    if not _matches(source, secret):
        raise Refused("Unknown webhook URL.", 404)


MAILCHIMP_ACTIONS = {"unsubscribe": Action.WITHDRAW, "subscribe": Action.REGRANT}


def mailchimp_reports(source: InboundSource, *, params: dict, now) -> list[Report]:
    """Mailchimp does not sign and sends no event id: the id is a hash of what identifies the change."""
    kind = params.get("type", "")
    kept_kind = f"{kind}:{params.get('data[action]') or params.get('data[reason]', '')}"
    action = MAILCHIMP_ACTIONS.get(kind, Action.IGNORE)
    if kind == "cleaned":
        action = Action.COMPLAINT if kept_kind == MAILCHIMP_ABUSE else Action.BOUNCE
    if action == Action.IGNORE:
        return []  # profile and upemail change no consent; the brand's own record of the address is Candor's
    try:
        occurred_at = datetime.strptime(params.get("fired_at", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError as error:
        raise Refused("fired_at must be YYYY-MM-DD HH:MM:SS.", 400) from error
    identity = "|".join(
        params.get(key, "") for key in ("type", "fired_at", "data[id]", "data[list_id]", "data[email]")
    )
    return [
        Report(
            event_id=hashlib.sha256(identity.encode()).hexdigest(),
            kind=kept_kind,
            action=action,
            occurred_at=occurred_at,
            scope=params.get("data[list_id]", ""),
            email=params.get("data[email]", ""),
        )
    ]


# Braze ------------------------------------------------------------------------------------------------------

# Changes made through Braze's REST API: Candor's own Braze destination writes subscription groups that way.
BRAZE_ECHO_SOURCES = frozenset({"rest api", "api"})


def braze_reports(source: InboundSource, *, body: bytes, authorization: str, now) -> list[Report]:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not _matches(source, token):
        raise Refused("Bearer token refused.")
    data = _json(body)
    events = data.get("events", [data]) if isinstance(data, dict) else data
    if not isinstance(events, list):
        raise Refused("Expected a state-change event or a list of them.", 400)
    reports = []
    for event in events:
        if not isinstance(event, dict) or not event.get("id"):
            continue
        status = str(event.get("subscription_status", "")).lower()
        action = {"unsubscribed": Action.WITHDRAW, "subscribed": Action.REGRANT}.get(status, Action.IGNORE)
        if str(event.get("state_change_source", "")).lower() in BRAZE_ECHO_SOURCES:
            action = Action.ECHO
        reports.append(
            Report(
                event_id=str(event["id"]),
                kind=f"subscription_group:{status}",
                action=action,
                occurred_at=_epoch(event.get("time")),
                scope=event.get("subscription_group_api_id", ""),
                channel=str(event.get("channel", "")).lower(),
                email=event.get("email_address") or "",
                phone=event.get("phone_number") or "",
                external_id=event.get("external_user_id") or "",
            )
        )
    return reports


# Generic: Candor's own documented shape, Standard Webhooks-signed -----------------------------------------

GENERIC_ACTIONS = {
    "unsubscribed": Action.WITHDRAW,
    GENERIC_COMPLAINED: Action.COMPLAINT,
    "resubscribed": Action.REGRANT,
    "bounced": Action.BOUNCE,
}


def generic_reports(source: InboundSource, *, body: bytes, headers, now) -> list[Report]:
    """``{"type": "unsubscribed|complained|resubscribed|bounced", "occurred_at": ISO 8601, "scope": "…",
    "customer": {"external_id"|"email"|"phone": "…"}}``; the ``webhook-id`` header is the event id."""
    try:
        event = Webhook(source.signing_key).verify(body, dict(headers))
    except WebhookVerificationError as error:
        raise Refused("The webhook signature does not verify.") from error
    if not isinstance(event, dict) or event.get("type") not in GENERIC_ACTIONS:
        raise Refused(f"type must be one of {', '.join(GENERIC_ACTIONS)}.", 400)
    customer = event.get("customer") or {}
    try:
        occurred_at = datetime.fromisoformat(event["occurred_at"])
    except (KeyError, TypeError, ValueError) as error:
        raise Refused("occurred_at must be an ISO 8601 time with an offset.", 400) from error
    if occurred_at.tzinfo is None:
        raise Refused("occurred_at must be an ISO 8601 time with an offset.", 400)
    return [
        Report(
            event_id=headers["webhook-id"],
            kind=event["type"],
            action=GENERIC_ACTIONS[event["type"]],
            occurred_at=occurred_at,
            scope=str(event.get("scope", "")),
            email=customer.get("email", ""),
            phone=customer.get("phone", ""),
            external_id=customer.get("external_id", ""),
        )
    ]
