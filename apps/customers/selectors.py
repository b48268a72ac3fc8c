from .models import Customer, EvidenceNote


def customer_by_email_or_id(value: str) -> Customer | None:
    """Find a (not erased) customer by email address, the brand's external id, or the surrogate key."""
    customers = Customer.objects.filter(erased_at__isnull=True)
    value = value.strip()
    if "@" in value:
        return customers.filter(email=value.lower()).order_by("pk").first()
    found = customers.filter(external_id=value).first()
    if found is None and value.isdigit():
        found = customers.filter(pk=int(value)).first()
    return found


def masked_email(email: str) -> str:
    """``j***@example.com``: enough for the customer to recognise the address, little for anyone else."""
    local, _, domain = email.partition("@")
    if not domain:
        return ""
    return f"{local[:1]}***@{domain}"


def masked_phone(phone: str) -> str:
    return f"{phone[:3]} *** {phone[-2:]}" if len(phone) > 6 else ""


ERASED = "[erased]"


def evidence_note_texts(note_ids) -> dict[int, str]:
    """The text of each evidence note by id, ``[erased]`` for one blanked by erasure."""
    notes = EvidenceNote.objects.filter(pk__in={note_id for note_id in note_ids if note_id is not None})
    return {note.pk: ERASED if note.erased_at else note.text for note in notes}
