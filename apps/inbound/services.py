"""Every write of the inbound door: sources, and what a provider's report does to the ledger.

Each report is recorded at most once per source and provider event id (a retry or a duplicate inside a batch
records nothing more), through ``apps.consent.services.record_choices`` with ``source`` = the provider and
``actor`` = ``inbound:<source name>``. A report that changes a known customer's choices (an unsubscribe, a
complaint, a STOP or a START) is kept as ``received`` in one statement, so the provider has its answer at once,
and a worker on the priority queue records it (``record_received``): within milliseconds, or at beat's next
sweep if its queued recording was lost. A report older than the customer's newer choice for the same purpose is
kept as history (``stale``) and changes nothing; a report that matches what Candor already holds (the echo of a
change Candor pushed) records nothing.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.catalog.selectors import catalog_rules
from apps.consent.models import ConsentEvent, InboundReport
from apps.consent.rules import regrant_choices, revocation_deadline, withdrawal_choices
from apps.consent.services import mark_address_undeliverable, record_inbound_report
from apps.customers.models import Customer
from apps.customers.services import hold_message
from apps.delivery.adapters.webhook import new_secret
from apps.delivery.tasks import push_now

from .models import InboundSource
from .providers import Action, Report, secret_hash, sendgrid_public_key

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
        check_public_key(kind, public_key)
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


def check_public_key(kind: str, public_key: str) -> None:
    """A SendGrid source needs the Event Webhook's verification key, and one that reads as an ECDSA P-256
    public key: a malformed one would refuse every event later, so it is refused now (``ValidationError``)."""
    if kind != Kind.SENDGRID:
        return
    if not public_key.strip():
        raise ValidationError({"public_key": "Give the Event Webhook's verification key from SendGrid."})
    try:
        sendgrid_public_key(public_key)
    except ValueError as error:
        raise ValidationError({"public_key": str(error)}) from error


def set_signing_key(*, source: InboundSource, signing_key: str) -> None:
    """Replace a write-only secret (the admin's form): for Twilio the auth token, for the others a new secret."""
    if source.kind in (Kind.TWILIO, Kind.GENERIC):
        source.signing_key = signing_key
    else:
        source.secret_hash = secret_hash(signing_key)
    source.save(update_fields=["signing_key", "secret_hash"])


# Reports --------------------------------------------------------------------------------------------------


def enabled_source(name: str) -> InboundSource | None:
    """The enabled source of this name, which every report starts by reading: one plain statement, which costs
    a fraction of what the ORM spends compiling the same lookup."""
    found = list(InboundSource.objects.raw(_ENABLED_SOURCE, [name]))
    return found[0] if found else None


_ENABLED_SOURCE = "SELECT * FROM inbound_inboundsource WHERE name = %s AND enabled"


@dataclass(frozen=True)
class Handled:
    report: Report
    outcome: str
    duplicate: bool = False
    language: str = settings.LANGUAGE_CODE  # the customer's, for a reply; the default when not known
    waiting_id: int | None = None  # the report kept as received, for ``record_received`` to take next


def handle_reports(*, source: InboundSource, reports: list[Report], received_at: datetime) -> list[Handled]:
    return [handle_report(source=source, report=report, received_at=received_at) for report in reports]


def handle_report(*, source: InboundSource, report: Report, received_at: datetime) -> Handled:
    customer, known = find_customer(report, source)
    if known:
        return Handled(report, known, duplicate=True)
    try:
        kept = _keep(source, report, customer, received_at)
    except IntegrityError:  # the same event, kept meanwhile by a concurrent delivery of it
        return Handled(report, _known(source, report).first() or Outcome.UNCHANGED, True)
    language = customer.locale if customer else settings.LANGUAGE_CODE
    waiting_id = kept.pk if kept.outcome == Outcome.RECEIVED else None
    return Handled(report, kept.outcome, language=language, waiting_id=waiting_id)


def _known(source: InboundSource, report: Report) -> "QuerySet[InboundReport, str]":
    """What a report of this event did when it was kept before (a retry or a duplicate), if it was."""
    return InboundReport.objects.filter(source_name=source.name, event_id=report.event_id).values_list(
        "outcome", flat=True
    )[:1]


def _keep(source: InboundSource, report: Report, customer: Customer | None, received_at: datetime):
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
        topics=[] if report.action == Action.COMPLAINT else list(topics),  # a complaint: the whole channel
    )
    if kept.revocation or report.action == Action.REVIEW:
        kept.deadline_at = revocation_deadline(received_at, deadline_spec(channel))
    kept.outcome = _outcome(source, report, customer, kept)
    if kept.outcome == Outcome.RECEIVED:
        kept.save()
        return kept
    return record_inbound_report(report=kept)[0]


def _outcome(source: InboundSource, report: Report, customer: Customer | None, kept: InboundReport) -> str:
    """What the report comes to now: ``received`` (choices for the write path to record next), or a final
    outcome, with what it does outside the ledger (a bounce's flag, a message held for review)."""
    if report.action in (Action.ECHO, Action.IGNORE, Action.HELP):
        return {Action.ECHO: Outcome.ECHO, Action.IGNORE: Outcome.IGNORED, Action.HELP: Outcome.ANSWERED}[
            report.action
        ]
    if customer is None:
        return Outcome.UNKNOWN_CUSTOMER
    if report.action == Action.BOUNCE:
        mark_address_undeliverable(customer=customer, at=report.occurred_at)
        return Outcome.FLAGGED
    if report.action == Action.REVIEW:
        hold_message(
            customer=customer,
            channel=kept.channel,
            body=report.body,
            origin=source.actor,
            received_at=kept.received_at,
            deadline_at=kept.deadline_at,
        )
        return Outcome.REVIEW
    return Outcome.RECEIVED


def record_received(report_id: int) -> str | None:
    """Record a report kept as ``received``: the withdrawal (an unsubscribe, a complaint, a STOP) or re-grant it
    carries, derived from the customer's choices as the write path locks them. A revocation's document then goes
    to every destination from the priority queue, ahead of routine changes. Returns the outcome, or None when
    the report is no longer waiting (recorded meanwhile by another run)."""
    with transaction.atomic():
        found = list(InboundReport.objects.raw(_waiting_report(), [report_id, Outcome.RECEIVED]))
        if not found:
            return None
        kept = found[0]
        customer = kept.customer
        assert customer is not None  # only a known customer's report waits
        if customer.erased_at is not None:  # erased since: there is nobody to record it for
            kept.outcome = Outcome.UNKNOWN_CUSTOMER
            kept.save(update_fields=["outcome"])
            return kept.outcome
        channel, topics = kept.channel, tuple(kept.topics)
        changes = withdrawal_choices if kept.revocation else regrant_choices
        announce = partial(push_now, customer.pk) if kept.revocation else None
        record_inbound_report(
            report=kept,
            decide=lambda current, rules: changes(current, rules, channel, topics),
            announce=announce,
        )
    return kept.outcome


def _waiting_report() -> str:
    """A plain statement, as for the source: the ORM's compilation of this lookup was a quarter of a recording.
    SQLite has no row locks (it serialises writers), so there the statement takes none."""
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return f"SELECT * FROM consent_inboundreport WHERE id = %s AND outcome = %s{lock}"  # noqa: S608 (constants)


def record_waiting(*, received_before: datetime, limit: int) -> int:
    """The sweep behind the queue: record the reports still waiting that were received before
    ``received_before`` (their queued recording was lost, or the queue was down), oldest first; returns how
    many it recorded."""
    waiting = InboundReport.objects.filter(outcome=Outcome.RECEIVED, received_at__lt=received_before)
    ids = waiting.order_by("received_at").values_list("pk", flat=True)[:limit]
    return sum(record_received(pk) is not None for pk in list(ids))


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


def find_customer(report: Report, source: InboundSource) -> tuple[Customer | None, str | None]:
    """By the brand's id if the provider knows it, else by address or number (never an erased customer), and
    what this event did if ``source`` reported it before (a retry or a duplicate).

    One plain statement for both: the ORM's compilation of this query (with the earlier outcome as a
    subquery) cost several times what the database spends on it: about a fifth of a STOP. The customer's choices
    are read later, under the write path's lock."""
    if report.external_id:
        wanted, params = "c.external_id = %s", [report.external_id]
    else:
        conditions = []
        params = []
        if report.email:
            conditions.append("c.email = %s")
            params.append(report.email.strip().lower())
        if report.phone:
            conditions.append("c.phone = %s")
            params.append(report.phone.strip())
        if not conditions:
            return None, _known(source, report).first()
        wanted = " OR ".join(conditions)
    found = list(Customer.objects.raw(_FIND_CUSTOMER.format(wanted), [source.name, report.event_id, *params]))
    if not found:
        return None, _known(source, report).first()
    return found[0], found[0].known_outcome  # type: ignore[attr-defined]  # the query's extra column


_FIND_CUSTOMER = (
    "SELECT c.*, (SELECT r.outcome FROM consent_inboundreport r WHERE r.source_name = %s AND r.event_id = %s"
    " LIMIT 1) AS known_outcome FROM customers_customer c WHERE c.erased_at IS NULL AND ({}) ORDER BY c.id"
    " LIMIT 1"
)


# Replies to texts -------------------------------------------------------------------------------------------


# In the language active when called: the view switches to the customer's own. The German texts name the German
# keywords (STOPP, HILFE), which ``keywords.classify`` reads as well as the English ones.


def _brand() -> str:
    return settings.CONSENT_RECEIPT_CONTROLLER["name"]


def stop_confirmation() -> str:
    return _("%(brand)s: you will get no more texts from us. Reply START to get them again.") % {
        "brand": _brand()
    }


def start_confirmation() -> str:
    return _("%(brand)s: texts are on again. Reply STOP to stop them, HELP for help.") % {"brand": _brand()}


def default_help_text() -> str:
    contact = settings.CONSENT_RECEIPT_CONTROLLER.get("email", "")
    return _("%(brand)s: reply STOP to stop texts, START to get them again. Questions: %(contact)s") % {
        "brand": _brand(),
        "contact": contact,
    }
