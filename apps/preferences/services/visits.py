"""A visit to the customer's pages: who acts and the evidence kept, what a recorded change tells the page, and
the email double opt-in's link and resend."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.catalog.selectors import CatalogRules
from apps.consent.entries import SnapshotEntry
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Provenance, State
from apps.consent.services import (
    Recorded,
    record_choices,
    send_confirmation_if_requested,
    send_email_confirmation,
)
from apps.customers.models import Customer

from ..selectors import snapshot_choices

Source = ConsentEvent.Source


@dataclass(frozen=True)
class Visit:
    """Who is acting and the evidence the ledger keeps (as keyed hashes) about how."""

    customer: Customer
    language: str = "en"
    ip_address: str | None = None
    user_agent: str | None = None
    via: str = "form"


@dataclass
class Saved:
    recorded: Recorded | None = None
    before: dict = field(default_factory=dict)  # purpose -> snapshot entry (or None) before this change
    purposes: list[str] = field(default_factory=list)
    sms_code_sent: bool = False
    sms_sent_to: str = ""  # where the code went
    email_confirmation_sent: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.recorded and self.recorded.events)


def record(visit: Visit, choices: list[Choice], source: str = Source.WEB, evidence=None) -> Recorded:
    return record_choices(
        customer=visit.customer,
        choices=choices,
        provenance=Provenance(
            source=source, actor="customer", evidence={"via": visit.via, **(evidence or {})}
        ),
        language=visit.language,
        ip_address=visit.ip_address,
        user_agent=visit.user_agent,
    )


def _saved(visit: Visit, recorded: Recorded, before: dict | None, saved: Saved | None = None) -> Saved:
    """What a recorded change tells the page (``before``: what an undo puts back, ``None`` for an undo itself);
    email consent now awaiting its confirmation sends the mail."""
    saved = saved or Saved()
    saved.recorded = recorded
    if before is not None:
        saved.before = {event.purpose: before.get(event.purpose) for event in recorded.events}
    saved.purposes = [event.purpose for event in recorded.events]
    saved.email_confirmation_sent = send_confirmation_if_requested(recorded, visit.customer, visit.language)
    return saved


def _shown_version(data, purpose: str, rules: CatalogRules) -> int:
    """The notice version the form showed for ``purpose``; it must be one of that purpose's published ones."""
    raw = data.get(f"nv:{purpose}", "")
    version = rules.published.get(int(raw)) if str(raw).isdigit() else None
    if version is None or version.purpose != purpose:
        raise ValidationError({purpose: [_("The page was out of date. Please reload it and choose again.")]})
    return version.id


def resend_email_confirmation(*, visit: Visit) -> Saved:
    """The page's "Send the link again", within the same hourly limit as every confirmation mail."""
    if not send_email_confirmation(visit.customer, visit.language):
        raise ValidationError(
            {"channel:email": [_("We have sent several links already. Please try again later.")]}
        )
    return Saved(email_confirmation_sent=True)


def confirm_email(*, visit: Visit) -> str:
    """Record email consent as ``given`` from the link; returns what happened: confirmed, already, nothing."""
    entry = SnapshotEntry.of(snapshot_choices(visit.customer), "channel:email")
    if entry and entry.is_given:
        return "already"
    if not entry or entry.state != State.REQUESTED:
        return "nothing"
    recorded = record(
        visit,
        [Choice("channel:email", State.GIVEN, entry.notice_version)],
        source=Source.EMAIL_LINK,
        evidence={"confirmed": "email address"},
    )
    return "confirmed" if recorded.events else "nothing"
