"""Consent records as they leave Candor: the customer's receipt for one event (Kantara Consent Receipt v1.1 names,
ISO/IEC TS 27560 content) and the staff's proof for a customer or one purpose (shaped on ISO/IEC TS 27560).

One home for both, so the controller, an event and its place in the tamper-evident chain are described once.
The front doors pass in what only they read: the customer's page its wording and what the customer received in
return; the console the purpose titles and the provider revocations delivery tracks.
"""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.catalog.models import NoticeText
from apps.catalog.purposes import Purpose
from apps.catalog.selectors import catalog_rules
from apps.customers.models import Customer
from apps.customers.selectors import ERASED, evidence_note_texts, profile_answers_by_id

from .entries import entries
from .models import ConsentEvent, Snapshot
from .rules import is_in_force
from .selectors import ledger_breaks

PROOF_SCHEMA = (
    "candor-consent-record/1 (shaped on ISO/IEC TS 27560:2023 consent record information structure)"
)
RECEIPT_VERSION = "KI-CR-v1.1.0"
RECEIPT_SCHEMA = "ISO/IEC TS 27560:2023 consent record, Kantara Consent Receipt v1.1 field names"


def controller() -> dict[str, Any]:
    return getattr(
        settings,
        "CONSENT_RECEIPT_CONTROLLER",
        {
            "name": settings.DEFAULT_FROM_EMAIL.partition("@")[2] or "Candor",
            "contact": "Data Protection Officer",
        },
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


# --- the customer's receipt for one event -----------------------------------------------------------------------


def receipt_event(customer: Customer, sequence: int) -> ConsentEvent | None:
    return (
        ConsentEvent.objects.filter(customer=customer, sequence=sequence)
        .select_related("notice_version__notice")
        .prefetch_related("notice_version__texts")
        .first()
    )


def consent_receipt(
    customer: Customer,
    event: ConsentEvent,
    *,
    title: str,
    text: dict[str, str],
    value_received: dict[str, Any],
) -> dict[str, Any]:
    """One event as a consent receipt.

    Who (the controller and the customer's id), what (purpose, state, value), which wording (notice version,
    its published text hash and ``text``, the wording in the language shown under ``title``), when, how (source,
    actor, hashed evidence), and where it sits in the tamper-evident chain (sequence, previous hash, own hash).
    """
    version = event.notice_version
    held_by = controller()
    return {
        "version": RECEIPT_VERSION,
        "schema": RECEIPT_SCHEMA,
        "jurisdiction": held_by["jurisdiction"],
        "consentReceiptID": event.hash,
        "consentTimestamp": int(
            event.effective_at.timestamp()
        ),  # when given: captured elsewhere, else recorded
        "recordedAt": event.recorded_at.isoformat(),
        "capturedAt": _iso(event.captured_at),
        "collectionMethod": ConsentEvent.Source(event.source).label,
        "source": event.source,
        "actor": event.actor,
        "language": event.language,
        "piiPrincipalId": customer.external_id,
        "piiControllers": [
            {
                "piiController": held_by["name"],
                **{key: held_by[key] for key in ("contact", "address", "email", "url")},
            }
        ],
        "policyUrl": held_by["policy_url"],
        "services": [
            {
                "service": title,
                "purposes": [
                    {
                        "purpose": event.purpose,
                        "purposeCategory": [_purpose_category(event.purpose)],
                        "consentType": "EXPLICIT",
                        "piiCategory": [_pii_category(event.purpose)],
                        "primaryPurpose": False,
                        "termination": _iso(event.expires_at) or "until withdrawn by the customer",
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
            "expiresAt": _iso(event.expires_at),
            "evidence": event.evidence,
        },
        "notice": {
            "id": version.pk,
            "purpose": version.notice.purpose,
            "number": version.number,
            "material": version.material,
            "publishedAt": _iso(version.published_at),
            "textHash": version.text_hash,
            "text": text,
        },
        "ledger": {"sequence": event.sequence, "prevHash": event.prev_hash, "hash": event.hash},
        # The value exchange after the fact: what the customer got for this purpose (not part of the ledger).
        "valueReceived": value_received,
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


# --- the staff's proof for a customer or one purpose ---------------------------------------------------------------


def consent_proof(
    customer: Customer, *, titles: dict[str, str], revocations: Iterable[Any], purpose: str = ""
) -> dict[str, Any]:
    """A consent record for the customer (or one purpose): the notices shown, every event with its chain hash
    and the exact fields the hash covers, and whether the customer's chain verifies. ``titles``: the purposes'
    names; ``revocations``: the customer's provider revocations with their acknowledgements (delivery's
    ``RevocationProgress``).

    The principal is named by the surrogate key only, so the proof works the same after an erasure.
    """
    events = list(
        ConsentEvent.objects.filter(customer=customer)
        .select_related("notice_version__notice")
        .order_by("sequence")
    )
    chosen = [event for event in events if not purpose or event.purpose == purpose]
    breaks = list(ledger_breaks(customer_ids=[customer.pk]))
    versions = {event.notice_version for event in chosen}
    texts: dict[int, dict[str, dict[str, str]]] = {}
    for text in NoticeText.objects.filter(version__in=versions):
        # Exactly the words the version's text hash covers, so the reader can recompute ``notice_hash``.
        texts.setdefault(text.version_id, {})[text.language] = text.canonical()
    notes = evidence_note_texts(event.evidence.get("note_id") for event in chosen)
    answers = profile_answers_by_id((event.value or {}).get("answer_id") for event in chosen)
    now = timezone.now()
    purposes = sorted({event.purpose for event in chosen})
    snapshot = Snapshot.objects.filter(customer=customer).first()
    held = entries(snapshot.choices) if snapshot else {}
    rules = catalog_rules()
    return {
        "schema_version": PROOF_SCHEMA,
        "record_id": f"candor:customer:{customer.pk}:{purpose or 'all'}:{now.strftime('%Y%m%dT%H%M%S%fZ')}",
        "generated_at": now.isoformat(),
        "pii_principal_id": f"candor:customer:{customer.pk}",
        "pii_principal_erased_at": _iso(customer.erased_at),
        "pii_controllers": [controller()],
        "processing": [
            {
                "purpose_id": item,
                "purpose": titles.get(item, item),
                "lawful_basis": "consent (GDPR art. 6(1)(a))",
                "current_state": entry.state if (entry := held.get(item)) else None,
                "in_force": is_in_force(held.get(item), item, rules, now),
            }
            for item in purposes
        ],
        "notices": [
            {
                "notice_id": version.notice.purpose,
                "notice_version": version.number,
                "notice_version_id": version.pk,
                "legacy_source": version.legacy_source or None,
                "material_change": version.material,
                "published_at": _iso(version.published_at),
                "notice_hash": version.text_hash,
                "notice_content": texts.get(version.pk, {}),
            }
            for version in sorted(versions, key=lambda v: (v.notice.purpose, v.number))
        ],
        "events": [event_record(event, notes, answers) for event in chosen],
        "inbound_revocations": [
            _revocation_record(item, now)
            for item in revocations
            if not purpose or any(event.pk in item.report.ledger_events for event in chosen)
        ],
        "ledger": {
            "hash_algorithm": "SHA-256 over the canonical JSON in each event's 'canonical' (docs/ledger.md)",
            "events_in_chain": len(events),
            "chain_head": events[-1].hash if events else None,
            "verifies": not breaks,
            "first_break": str(breaks[0]) if breaks else None,
        },
    }


def event_record(event: ConsentEvent, notes: dict[int, str], answers: dict[int, list[str]]) -> dict[str, Any]:
    """One event as proof. A note is shown from the erasable table beside the evidence that references it by
    id and keyed hash (``[erased]`` after erasure); the hash covers only the reference, so the chain verifies.
    A profile answer likewise, from its value's ``answer_id`` (``[erased]`` once replaced, forgotten or erased)."""
    proof: dict[str, Any] = {
        "event_id": event.pk,
        "event_time": event.effective_at.isoformat(),  # when the choice took effect: captured, else recorded
        "recorded_at": event.recorded_at.isoformat(),
        "captured_at": _iso(event.captured_at),
        "event_type": f"consent {event.state}",
        "event_state": event.state,
        "event_by": event.actor,
        "event_method": event.source,
        "purpose_id": event.purpose,
        "notice_version_id": event.notice_version_id,
        "language": event.language,
        "value": event.value,
        "expires_at": _iso(event.expires_at),
        "evidence": event.evidence,
        "sequence": event.sequence,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "canonical": json.loads(event.canonical_bytes()),
    }
    if "note_id" in event.evidence:
        proof["note"] = notes.get(event.evidence["note_id"], ERASED)
    if event.value and "answer_id" in event.value:
        proof["answer"] = answers.get(event.value["answer_id"], ERASED)
    return proof


def _revocation_record(item: Any, now: datetime) -> dict[str, Any]:
    report = item.report
    return {
        "inbound_source": report.source_name,
        "provider": report.provider,
        "provider_event_id": report.event_id,
        "provider_event": report.kind,
        "channel": report.channel,
        "occurred_at": report.occurred_at.isoformat(),
        "received_at": report.received_at.isoformat(),
        "recorded_at": report.recorded_at.isoformat(),
        "deadline_at": _iso(report.deadline_at),
        "event_ids": report.ledger_events,
        "permission_document_version": item.version,
        "acknowledged_by": [
            {"destination": ack.destination, "at": _iso(ack.acknowledged_at)} for ack in item.acknowledgements
        ],
        "all_acknowledged_at": _iso(item.all_acknowledged_at),
        "past_deadline": item.past_deadline(now),
    }
