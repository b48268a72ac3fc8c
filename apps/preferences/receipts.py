"""The customer's own history: the timeline of their ledger, and a consent receipt for any one event."""

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.catalog.purposes import Purpose, channel_purpose
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
    """One event as a consent receipt: Kantara Consent Receipt v1.1 names, ISO/IEC TS 27560 record content.

    Who (the controller and the customer's id), what (purpose, state, value), which wording (notice version,
    its published text hash and the text in the language shown), when, how (source, actor, hashed evidence),
    and where it sits in the tamper-evident chain (sequence, previous hash, own hash).
    """
    event = (
        ConsentEvent.objects.filter(customer=customer, sequence=sequence)
        .select_related("notice_version__notice")
        .prefetch_related("notice_version__texts")
        .first()
    )
    if event is None:
        return None
    version = event.notice_version
    shown = notice_view(version, event.language)
    controller = settings.CONSENT_RECEIPT_CONTROLLER
    return {
        "version": "KI-CR-v1.1.0",
        "schema": "ISO/IEC TS 27560:2023 consent record, Kantara Consent Receipt v1.1 field names",
        "jurisdiction": controller["jurisdiction"],
        "consentReceiptID": event.hash,
        "consentTimestamp": int(
            event.effective_at.timestamp()
        ),  # when given: captured elsewhere, else recorded
        "recordedAt": event.recorded_at.isoformat(),
        "capturedAt": event.captured_at.isoformat() if event.captured_at else None,
        "collectionMethod": ConsentEvent.Source(event.source).label,
        "source": event.source,
        "actor": event.actor,
        "language": event.language,
        "piiPrincipalId": customer.external_id,
        "piiControllers": [
            {
                "piiController": controller["name"],
                "contact": controller["contact"],
                "address": controller["address"],
                "email": controller["email"],
                "url": controller["url"],
            }
        ],
        "policyUrl": controller["policy_url"],
        "services": [
            {
                "service": shown.title,
                "purposes": [
                    {
                        "purpose": event.purpose,
                        "purposeCategory": [_purpose_category(event.purpose)],
                        "consentType": "EXPLICIT",
                        "piiCategory": [_pii_category(event.purpose)],
                        "primaryPurpose": False,
                        "termination": event.expires_at.isoformat()
                        if event.expires_at
                        else "until withdrawn by the customer",
                        "thirdPartyDisclosure": False,
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "consent": {
            "state": event.state,
            "value": event.value,
            "expiresAt": event.expires_at.isoformat() if event.expires_at else None,
            "evidence": event.evidence,
        },
        "notice": {
            "id": version.pk,
            "purpose": version.notice.purpose,
            "number": version.number,
            "material": version.material,
            "publishedAt": version.published_at.isoformat() if version.published_at else None,
            "textHash": version.text_hash,
            "text": {key: getattr(shown, key) for key in TEXT_FIELD_KEYS},
        },
        "ledger": {"sequence": event.sequence, "prevHash": event.prev_hash, "hash": event.hash},
        # The value exchange after the fact: what the customer got for this purpose (not part of the ledger).
        "valueReceived": {
            "days": RECEIVED_DAYS,
            "lines": [
                line.text
                for line in received_in_return(customer, event.language)
                if event.purpose in (line.purpose, channel_purpose(line.channel))
            ],
        },
    }


def _purpose_category(purpose: str) -> str:
    if purpose in ("location", "personalization"):
        return "Personalisation"
    slug = Purpose.parse(purpose).topic_slug or ""
    return "Service communications" if slug.startswith("order") else "Marketing communications"


def _pii_category(purpose: str) -> str:
    if purpose == "location":
        return "Location"
    if purpose == "personalization":
        return "Preferences and activity"
    if Purpose.parse(purpose).is_channel:
        return "Contact details"
    return "Communication preferences"
