"""The customer's own history: the timeline of their ledger, and a consent receipt for any one event."""

from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.catalog.purposes import channel_purpose
from apps.consent import records
from apps.consent.models import ConsentEvent
from apps.consent.rules import State
from apps.customers.models import Customer

from .leaving import LEAVE_REASON_LABELS
from .selectors import RECEIVED_DAYS, TEXT_FIELD_KEYS, current_notices, notice_view, received_in_return

# The customer's words for states and sources (the ledger's own labels are the staff's, in English).
STATE_LABELS: dict[str, Any] = {
    State.REQUESTED: _("Waiting for you to confirm"),
    State.GIVEN: _("Yes"),
    State.REFUSED: _("No"),
    State.WITHDRAWN: _("Switched off"),
    State.EXPIRED: _("Ended by itself (time limit)"),
    State.INVALIDATED: _("Asked again after we changed the wording"),
}
SOURCE_LABELS: dict[str, Any] = {
    ConsentEvent.Source.WEB: _("on this page"),
    ConsentEvent.Source.EMAIL_LINK: _("by a link in an email"),
    ConsentEvent.Source.ONE_CLICK_UNSUBSCRIBE: _("by the unsubscribe link in an email"),
    ConsentEvent.Source.GPC: _("by your browser's privacy signal (GPC)"),
    ConsentEvent.Source.SMS_KEYWORD: _("by a text message (such as STOP)"),
    ConsentEvent.Source.API: _("in one of our other systems"),
    ConsentEvent.Source.SUPPORT_AGENT: _("by our support team, as you asked"),
    ConsentEvent.Source.IMPORT: _("taken over from our earlier system"),
    ConsentEvent.Source.SYSTEM: _("automatically"),
}


def timeline(customer: Customer, language: str, limit: int = 200) -> list[dict]:
    """The customer's own events, newest first, with the notice title and the wording they were shown."""
    titles = {notice.purpose: notice.title for notice in current_notices(language).values()}
    events = (
        ConsentEvent.objects.filter(customer=customer)
        .select_related("notice_version__notice")
        .prefetch_related("notice_version__texts")
        .order_by("-sequence")[:limit]
    )
    return [
        {
            "sequence": event.sequence,
            "purpose": event.purpose,
            "title": titles.get(event.purpose, event.purpose),
            "state": event.state,
            "state_label": STATE_LABELS.get(event.state, event.state),
            "value": event.value,
            "source": event.source,
            "source_label": SOURCE_LABELS.get(event.source, event.source),
            "recorded_at": event.recorded_at,
            "expires_at": event.expires_at,
            "wording": notice_view(event.notice_version, event.language),
            "language": event.language,
            "reason": LEAVE_REASON_LABELS.get(reason := (event.evidence or {}).get("reason", ""), reason),
        }
        for event in events
    ]


def consent_receipt(customer: Customer, sequence: int) -> dict | None:
    """One event as a consent receipt (``apps.consent.records``), with the wording in the language shown and
    what the customer received in return for its purpose."""
    event = records.receipt_event(customer, sequence)
    if event is None:
        return None
    shown = notice_view(event.notice_version, event.language)
    return records.consent_receipt(
        customer,
        event,
        title=shown.title,
        text={key: getattr(shown, key) for key in TEXT_FIELD_KEYS},
        value_received={
            "days": RECEIVED_DAYS,
            "lines": [
                line.text
                for line in received_in_return(customer, event.language)
                if event.purpose in (line.purpose, channel_purpose(line.channel))
            ],
        },
    )
