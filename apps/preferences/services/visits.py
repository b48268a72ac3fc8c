"""A visit to the customer's pages: who acts and the evidence kept, what a recorded change tells the page, the
notice version a form showed, and the email double opt-in's link and resend."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.catalog.selectors import CatalogRules
from apps.consent.entries import SnapshotEntry
from apps.consent.models import ConsentEvent
from apps.consent.rules import Choice, Provenance, State
from apps.consent.services import Recorded, record_choices, send_email_confirmation
from apps.customers.models import Customer, Exposure
from apps.customers.services import record_exposures

from ..selectors import PreferencePage, snapshot_choices

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


def shown_version(data, purpose: str, rules: CatalogRules) -> int:
    """The notice version a page's form showed for ``purpose`` (posted as ``nv:<purpose>``): the version the
    customer's answer is pinned to. It must be one of that purpose's published ones; else the page was out of
    date, and nothing is recorded."""
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


def note_page_shown(page: PreferencePage) -> None:
    """Record which notice versions the rendered page showed (the insights' denominators): a purpose asked
    again after a material change counts as a re-ask, every other current notice as shown on the page."""
    reasked = {reask.notice.version_id for reask in page.reasks}
    shown = [notice.version_id for notice in page.notices.values() if notice.version_id not in reasked]
    at = timezone.now()
    for surface, versions in ((Exposure.Surface.PAGE, shown), (Exposure.Surface.REASK, reasked)):
        if versions:
            record_exposures(
                customer_id=page.customer.pk, notice_version_ids=versions, surface=surface, at=at
            )
