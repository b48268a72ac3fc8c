"""Every write of the inbound door: sources, and what a provider's report does to the ledger.

Each report is recorded at most once per source and provider event id (a retry or a duplicate inside a batch
records nothing more), through ``apps.consent.services.record_choices`` with ``source`` = the provider and
``actor`` = ``inbound:<source name>``. A report older than the customer's newer choice for the same purpose is
kept as history (``stale``) and changes nothing; a report that matches what Candor already holds (the echo of
a change Candor pushed) records nothing.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.catalog.selectors import catalog_rules
from apps.consent.models import ConsentEvent, Snapshot
from apps.consent.rules import regrant_choices, revocation_deadline, withdrawal_choices
from apps.consent.services import record_choices
from apps.customers.models import Customer
from apps.customers.services import hold_message, mark_email_undeliverable
from apps.delivery.adapters.webhook import new_secret
from apps.delivery.tasks import push_now

from .models import InboundEvent, InboundSource
from .providers import Action, Report, secret_hash

Kind = InboundSource.Kind
Outcome = InboundEvent.Outcome

DEFAULT_CHANNEL = {Kind.TWILIO: "sms"}
LEDGER_SOURCE = {
    Kind.TWILIO: ConsentEvent.Source.TWILIO,
    Kind.SENDGRID: ConsentEvent.Source.SENDGRID,
    Kind.POSTMARK: ConsentEvent.Source.POSTMARK,
    Kind.MAILCHIMP: ConsentEvent.Source.MAILCHIMP,
    Kind.BRAZE: ConsentEvent.Source.BRAZE,
    Kind.GENERIC: ConsentEvent.Source.INBOUND_WEBHOOK,
}
REVOCATIONS = frozenset({Action.WITHDRAW, Action.COMPLAINT})


# Sources ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSource:
    source: InboundSource
    secret: str  # what to give the provider, shown once: URL secret, bearer token, password or whsec_ key


def add_inbound_source(
    *,
    name: str,
    kind: str,
    channel: str = "",
    scopes: dict | None = None,
    signing_key: str = "",
    public_key: str = "",
    username: str = "",
) -> NewSource:
    """Create a source. Twilio brings its own auth token (``signing_key``) and SendGrid its public key; for
    the others Candor makes the secret the provider is given, and keeps only what it needs to check it."""
    if kind not in Kind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; use one of {', '.join(Kind.values)}."})
    rules = catalog_rules()
    channel = channel or DEFAULT_CHANNEL.get(kind, "email")
    _check_scopes(scopes or {}, channel, rules)
    source = InboundSource(name=name, kind=kind, channel=channel, scopes=scopes or {}, public_key=public_key)
    secret = ""
    if kind == Kind.TWILIO:
        if not signing_key:
            raise ValidationError(
                {"signing_key": "Give the Twilio account's auth token: it signs each request."}
            )
        source.signing_key = signing_key
    elif kind == Kind.SENDGRID:
        if not public_key:
            raise ValidationError({"public_key": "Give the Event Webhook's verification key from SendGrid."})
    elif kind == Kind.GENERIC:
        source.signing_key = secret = new_secret()
    else:
        secret = secrets.token_urlsafe(32)
        source.secret_hash = secret_hash(secret)
        source.username = username or (name if kind == Kind.POSTMARK else "")
    source.full_clean()
    source.save()
    return NewSource(source=source, secret=secret)


def _check_scopes(scopes: dict, channel: str, rules) -> None:
    errors = []
    if channel not in rules.channels:
        errors.append(f"Unknown channel {channel!r}.")
    if not isinstance(scopes, dict):
        raise ValidationError({"scopes": "Scopes map a provider scope to {channel, topics}."})
    for scope, target in scopes.items():
        if not isinstance(target, dict) or set(target) - {"channel", "topics"}:
            errors.append(f"{scope}: give {{channel, topics}}.")
            continue
        code = target.get("channel", channel)
        if code not in rules.channels:
            errors.append(f"{scope}: unknown channel {code!r}.")
        for slug in target.get("topics", []):
            topic = rules.topics.get(slug)
            if topic is None or code not in topic.channels:
                errors.append(f"{scope}: topic {slug!r} does not use {code}.")
    if errors:
        raise ValidationError({"scopes": errors})


def set_signing_key(*, source: InboundSource, signing_key: str) -> None:
    """Replace a write-only secret (the admin's form): for Twilio the auth token, for the others a new secret."""
    if source.kind in (Kind.TWILIO, Kind.GENERIC):
        source.signing_key = signing_key
    else:
        source.secret_hash = secret_hash(signing_key)
    source.save(update_fields=["signing_key", "secret_hash"])


# Reports --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    report: Report
    outcome: str
    duplicate: bool = False


def handle_reports(*, source: InboundSource, reports: list[Report], received_at: datetime) -> list[Handled]:
    return [handle_report(source=source, report=report, received_at=received_at) for report in reports]


def handle_report(*, source: InboundSource, report: Report, received_at: datetime) -> Handled:
    known = InboundEvent.objects.filter(source=source, event_id=report.event_id).values_list(
        "outcome", flat=True
    )
    if outcome := known.first():
        return Handled(report, outcome, duplicate=True)
    try:
        with transaction.atomic():
            outcome, revoked_customer = _apply(source, report, received_at)
    except IntegrityError:  # the same event, handled meanwhile by a concurrent delivery of it
        return Handled(report, known.first() or Outcome.UNCHANGED, duplicate=True)
    if revoked_customer:
        transaction.on_commit(lambda: push_now(revoked_customer))
    return Handled(report, outcome)


def _apply(source: InboundSource, report: Report, received_at: datetime) -> tuple[str, int | None]:
    customer = find_customer(report)
    channel, topics = _target(source, report)
    event = InboundEvent(
        source=source,
        event_id=report.event_id,
        kind=report.kind[:40],
        customer=customer,
        channel=channel,
        occurred_at=report.occurred_at,
        received_at=received_at,
    )
    event.outcome, revoked = _outcome(source, report, customer, channel, topics, event)
    event.save()
    return event.outcome, revoked


def _outcome(source, report, customer, channel, topics, event) -> tuple[str, int | None]:
    if report.action == Action.ECHO:
        return Outcome.ECHO, None
    if report.action == Action.IGNORE:
        return Outcome.IGNORED, None
    if report.action == Action.HELP:
        return Outcome.ANSWERED, None
    if customer is None:
        return Outcome.UNKNOWN_CUSTOMER, None
    if report.action == Action.BOUNCE:
        mark_email_undeliverable(customer=customer, at=report.occurred_at)
        return Outcome.FLAGGED, None
    deadline = revocation_deadline(event.received_at, deadline_spec(channel))
    if report.action == Action.REVIEW:
        hold_message(
            customer=customer,
            channel=channel,
            body=report.body,
            origin=source.actor,
            received_at=event.received_at,
            deadline_at=deadline,
        )
        return Outcome.REVIEW, None
    snapshot = Snapshot.objects.filter(customer=customer).first()
    current = snapshot.choices if snapshot else {}
    rules = catalog_rules()
    if report.action == Action.REGRANT:
        choices = regrant_choices(current, rules, channel, topics)
    else:
        choices = withdrawal_choices(
            current, rules, channel, () if report.action == Action.COMPLAINT else topics
        )
    if not choices:
        return Outcome.UNCHANGED, None
    evidence = {
        "inbound_source": source.name,
        "provider_event": report.kind,
        "provider_event_id": report.event_id,
        "received_at": event.received_at.isoformat(),
    }
    if report.action in REVOCATIONS:
        evidence["deadline_at"] = deadline.isoformat()
    recorded = record_choices(
        customer=customer,
        choices=choices,
        source=LEDGER_SOURCE[source.kind],
        actor=source.actor,
        language=customer.locale,
        evidence=evidence,
        # When the customer acted, by the provider's clock (never ahead of ours): a report older than the
        # customer's newer choice for the purpose is kept as history only (``rules.takes_effect``).
        captured_at=min(report.occurred_at, event.received_at),
    )
    event.recorded_at = recorded.events[0].recorded_at
    event.ledger_events = [e.pk for e in recorded.events]
    if len(recorded.history_only) == len(recorded.events):
        return Outcome.STALE, None
    revoked = report.action in REVOCATIONS and recorded.document_changed
    return Outcome.RECORDED, customer.pk if revoked else None


def deadline_spec(channel: str) -> str:
    return settings.INBOUND_DEADLINES.get(channel, "10bd")


def _target(source: InboundSource, report: Report) -> tuple[str, tuple[str, ...]]:
    """The Candor channel and topics the provider's scope maps to; an unmapped scope is the whole channel
    (the safe reading of an unsubscribe we cannot place)."""
    mapped = source.scopes.get(report.scope) if report.scope else None
    channel = report.channel or source.channel
    if mapped:
        return mapped.get("channel", channel), tuple(mapped.get("topics", ()))
    return channel, ()


def find_customer(report: Report) -> Customer | None:
    """By the brand's id if the provider knows it, else by address or number; never an erased customer."""
    live = Customer.objects.filter(erased_at=None)
    if report.external_id:
        return live.filter(external_id=report.external_id).first()
    wanted = Q()
    if report.email:
        wanted |= Q(email=report.email.strip().lower())
    if report.phone:
        wanted |= Q(phone=report.phone.strip())
    return live.filter(wanted).order_by("id").first() if wanted else None


# Replies to texts -------------------------------------------------------------------------------------------


def _brand() -> str:
    return settings.CONSENT_RECEIPT_CONTROLLER["name"]


def stop_confirmation() -> str:
    return f"{_brand()}: you will get no more texts from us. Reply START to get them again."


def start_confirmation() -> str:
    return f"{_brand()}: texts are on again. Reply STOP to stop them, HELP for help."


def default_help_text() -> str:
    contact = settings.CONSENT_RECEIPT_CONTROLLER.get("email", "")
    return f"{_brand()}: reply STOP to stop texts, START to get them again. Questions: {contact}"
