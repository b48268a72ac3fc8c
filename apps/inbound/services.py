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
from apps.consent.models import ConsentEvent, InboundReport, Snapshot
from apps.consent.rules import regrant_choices, revocation_deadline, withdrawal_choices
from apps.consent.services import mark_address_undeliverable, record_inbound_report
from apps.customers.models import Customer
from apps.customers.services import hold_message
from apps.delivery.adapters.webhook import new_secret
from apps.delivery.tasks import push_now

from .models import InboundSource
from .providers import Action, Report, secret_hash

Kind = InboundSource.Kind
Outcome = InboundReport.Outcome

DEFAULT_CHANNEL: dict[str, str] = {Kind.TWILIO: "sms"}
LEDGER_SOURCE: dict[str, str] = {
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
    check_scopes(scopes or {}, channel, rules)
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


def check_scopes(scopes: dict, channel: str, rules=None) -> None:
    """Refuse a channel or a scope mapping the catalog cannot carry (``ValidationError`` on ``scopes``)."""
    rules = rules or catalog_rules()
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
    known = InboundReport.objects.filter(source_name=source.name, event_id=report.event_id)
    if outcome := known.values_list("outcome", flat=True).first():
        return Handled(report, outcome, duplicate=True)
    try:
        kept, recorded = _keep(source, report, received_at)
    except IntegrityError:  # the same event, kept meanwhile by a concurrent delivery of it
        return Handled(report, known.values_list("outcome", flat=True).first() or Outcome.UNCHANGED, True)
    if kept.revocation and recorded is not None and recorded.document_changed:
        customer_id = kept.customer_id
        transaction.on_commit(lambda: push_now(customer_id))
    return Handled(report, kept.outcome)


def _keep(source: InboundSource, report: Report, received_at: datetime):
    customer = find_customer(report)
    channel, topics = _target(source, report)
    kept = InboundReport(
        source_name=source.name,
        provider=LEDGER_SOURCE[source.kind],
        event_id=report.event_id,
        kind=report.kind[:40],
        customer=customer,
        channel=channel,
        revocation=report.action in REVOCATIONS,
        occurred_at=report.occurred_at,
        received_at=received_at,
    )
    if kept.revocation or report.action == Action.REVIEW:
        kept.deadline_at = revocation_deadline(received_at, deadline_spec(channel))
    kept.outcome, choices = _decide(source, report, customer, channel, topics, kept)
    return record_inbound_report(report=kept, choices=choices)


def _decide(source, report, customer, channel, topics, kept) -> tuple[str, list]:
    """What the report means: an outcome, and the choices to record if any."""
    if report.action in (Action.ECHO, Action.IGNORE, Action.HELP):
        return {Action.ECHO: Outcome.ECHO, Action.IGNORE: Outcome.IGNORED, Action.HELP: Outcome.ANSWERED}[
            report.action
        ], []
    if customer is None:
        return Outcome.UNKNOWN_CUSTOMER, []
    if report.action == Action.BOUNCE:
        mark_address_undeliverable(customer=customer, at=report.occurred_at)
        return Outcome.FLAGGED, []
    if report.action == Action.REVIEW:
        hold_message(
            customer=customer,
            channel=channel,
            body=report.body,
            origin=source.actor,
            received_at=kept.received_at,
            deadline_at=kept.deadline_at,
        )
        return Outcome.REVIEW, []
    try:
        current = customer.consent_snapshot.choices  # read with the customer (find_customer)
    except Snapshot.DoesNotExist:
        current = {}
    rules = catalog_rules()
    if report.action == Action.REGRANT:
        choices = regrant_choices(current, rules, channel, topics)
    else:
        choices = withdrawal_choices(
            current, rules, channel, () if report.action == Action.COMPLAINT else topics
        )
    return Outcome.UNCHANGED, choices


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
        return live.filter(external_id=report.external_id).select_related("consent_snapshot").first()
    wanted = Q()
    if report.email:
        wanted |= Q(email=report.email.strip().lower())
    if report.phone:
        wanted |= Q(phone=report.phone.strip())
    return live.filter(wanted).select_related("consent_snapshot").order_by("id").first() if wanted else None


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
