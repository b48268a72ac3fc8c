"""What the customer's pages change. Every change ends in ``apps.consent.services.record_choices``.

A page section posts all its controls (with htmx on every change, without JavaScript on "Save"); here the
posted form becomes the list of choices that differ from the customer's snapshot, each pinned to the notice
version that was on screen (the form carries it as ``nv:<purpose>``). Unchanged purposes are not recorded
again, so the ledger holds what the customer actually changed.
"""

from .sections import (
    SECTIONS,
    answer_reask,
    note_page_shown,
    save_section,
    section_choices,
    section_of,
    undo,
    undo_choices,
)
from .sms_verification import (
    cancel_sms_code,
    entered_phone,
    resend_sms_code,
    sms_code_pending_for,
    start_sms_verification,
    start_sms_with_number,
    verify_sms_code,
)
from .visits import Saved, Source, Visit, confirm_email, record, resend_email_confirmation

__all__ = [
    "SECTIONS",
    "Saved",
    "Source",
    "Visit",
    "answer_reask",
    "cancel_sms_code",
    "confirm_email",
    "entered_phone",
    "note_page_shown",
    "record",
    "resend_email_confirmation",
    "resend_sms_code",
    "save_section",
    "section_choices",
    "section_of",
    "sms_code_pending_for",
    "start_sms_verification",
    "start_sms_with_number",
    "undo",
    "undo_choices",
    "verify_sms_code",
]
