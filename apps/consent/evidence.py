"""What a ledger event's evidence may hold: known keys, each with a closed set of values, and nothing free.

The ledger is append-only, so anything personal that got into it could never be erased. Free text (an agent's
note, a caller's comment, a file name) goes to the erasable ``apps.customers.models.EvidenceNote`` instead; the
write path puts only its id and keyed hash (``note_id``, ``note_hash``) in the evidence. Values are normalised
(NFKC) before they are checked, so a full-width or composed look-alike cannot pass as something else.
"""

import json
import re
import unicodedata
from datetime import datetime

from django.core.exceptions import ValidationError

HOW_ASKED = {
    "phone": "By phone",
    "letter": "By letter",
    "email": "By email",
    "in_person": "In person",
    "text": "By text message",
}
CAPTURED_VIA = (
    "web_form",
    "checkout",
    "call_center",
    "in_store",
    "paper_form",
    "mobile_app",
    "event",
    "import",
)
LEAVE_REASONS = ("too_many", "not_relevant", "never_signed_up", "privacy", "other")
SYSTEM_REASONS = (
    "time-boxed consent ended",
    "erasure requested",
    "email address changed: email awaits confirmation of the new address",
    "email address removed",
    "phone number changed: texts stop until the new number is verified",
)
# ``material change: topic:news v3``: the catalog's own purpose and version number, never anything personal.
MATERIAL_CHANGE = re.compile(r"material change: (?:[a-z]+|[a-z]+:[a-z0-9-]{1,50}) v[0-9]{1,6}")

# Per key the values a caller may give: a fixed set, or a kind checked below (an id is a positive integer).
CALLER_KEYS: dict[str, frozenset[str] | str] = {
    "via": frozenset({"form", "htmx"}),
    "section": frozenset(
        {"channels", "topics", "frequency", "location", "personalization", "reask", "undo", "leave"}
    ),
    "confirmed": frozenset({"email address"}),
    "verified": frozenset({"phone number by code"}),
    "signal": frozenset({"Sec-GPC: 1"}),
    "how_asked": frozenset(HOW_ASKED),
    "captured_via": frozenset(CAPTURED_VIA),
    "list": "purpose",  # one-click unsubscribe: the list is one of the purposes being recorded
    "reason": "reason",  # leave reasons and the system's own, joined by "; "
    "import_run": "id",
    "row": "id",
    "confirmed_at": "datetime",  # when an earlier system saw the double opt-in confirmed (ISO 8601 with offset)
}
WRITE_PATH_KEYS = frozenset({"ip_hash", "user_agent_hash", "note_id", "note_hash", "confirmation_ip_hash"})
MAX_EVIDENCE_KEYS = len(CALLER_KEYS)
MAX_EVIDENCE_BYTES = 1024
NOTE_MAX_LENGTH = 2000


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def clean_evidence(evidence: object, purposes: set[str]) -> dict[str, str | int]:
    """The evidence a caller gave, normalised and checked; ``ValidationError`` keyed ``evidence/<key>``."""
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise ValidationError({"evidence": "Evidence must be an object."})
    if len(evidence) > MAX_EVIDENCE_KEYS:
        raise ValidationError({"evidence": f"Evidence has at most {MAX_EVIDENCE_KEYS} keys."})
    errors: dict[str, str] = {}
    cleaned: dict[str, str | int] = {}
    for raw_key, raw_value in evidence.items():
        key = normalise(raw_key) if isinstance(raw_key, str) else raw_key
        where = f"evidence/{key}" if isinstance(key, str) and key.isprintable() else "evidence"
        if key in ("ip", "ip_address", "user_agent"):
            errors[where] = "Pass ip_address and user_agent separately: the ledger keeps only keyed hashes."
        elif key in WRITE_PATH_KEYS:
            errors[where] = "Set by the write path itself: pass ip_address, user_agent or note instead."
        elif key not in CALLER_KEYS:
            errors[where] = (
                f"Unknown evidence key. Known: {', '.join(sorted(CALLER_KEYS))}; "
                "free text goes in the note, which erasure can remove."
            )
        elif CALLER_KEYS[key] == "id":
            if isinstance(raw_value, bool) or not isinstance(raw_value, int) or not 0 < raw_value < 2**63:
                errors[where] = "An id: a positive integer."
            else:
                cleaned[key] = raw_value
        elif not isinstance(raw_value, str):
            errors[where] = "Evidence values are strings from a fixed list."
        elif not _allowed(CALLER_KEYS[key], value := normalise(raw_value).strip(), purposes):
            errors[where] = _allowed_text(CALLER_KEYS[key])
        else:
            cleaned[key] = value
    if not errors and len(json.dumps(cleaned, ensure_ascii=False).encode()) > MAX_EVIDENCE_BYTES:
        errors["evidence"] = f"Evidence is limited to {MAX_EVIDENCE_BYTES} bytes."
    if errors:
        raise ValidationError(errors)
    return cleaned


def clean_note(note: object) -> str:
    """Free text for the erasable note table: normalised, stripped, bounded; empty means no note."""
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ValidationError({"note": "The note is text."})
    text = normalise(note).strip()
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX_LENGTH} characters."})
    if "\x00" in text:
        raise ValidationError({"note": "The note may not contain NUL characters."})
    return text


def _allowed(allowed: frozenset[str] | str, value: str, purposes: set[str]) -> bool:
    if allowed == "purpose":
        return value in purposes
    if allowed == "datetime":
        return _is_aware_datetime(value)
    if allowed == "reason":
        return all(
            part in LEAVE_REASONS or part in SYSTEM_REASONS or MATERIAL_CHANGE.fullmatch(part)
            for part in value.split("; ")
        )
    return value in allowed


def _is_aware_datetime(value: str) -> bool:
    try:
        return len(value) <= 40 and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _allowed_text(allowed: frozenset[str] | str) -> str:
    if allowed == "datetime":
        return "A time in ISO 8601 with its offset, e.g. 2026-03-01T12:00:00+00:00."
    if allowed == "purpose":
        return "Name the purpose this change is recorded for."
    if allowed == "reason":
        return f"Give a reason code: {', '.join(LEAVE_REASONS)}."
    return f"Use one of: {', '.join(sorted(allowed))}."
