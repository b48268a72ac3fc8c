from django.db import connection

from .models import Customer, EvidenceNote, Inference, MessageRecord, ProfileAnswer


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


def profile_answers_by_id(answer_ids) -> dict[int, list[str]]:
    """The answers still held, by id (an answer replaced, forgotten or erased is gone: proof shows ``[erased]``)."""
    ids = {answer_id for answer_id in answer_ids if answer_id is not None}
    return dict(ProfileAnswer.objects.filter(pk__in=ids).values_list("pk", "answer"))


def what_we_know_export(customer: Customer) -> dict:
    """The customer's profile for their data export: every answer they gave and every inference reported, the
    removed ones included (kept so a later report cannot bring them back)."""
    return {
        "profile_answers": [
            {
                "question": row.question,
                "answer": row.answer,
                "question_version_id": row.notice_version_id,
                "answered_at": row.answered_at.isoformat(),
            }
            for row in ProfileAnswer.objects.filter(customer=customer).order_by("question")
        ],
        "inferences": [
            {
                "code": row.code,
                "label": row.label,
                "source": row.source,
                "purpose": row.purpose,
                "reported_at": row.reported_at.isoformat(),
                "removed": row.removal or None,
                "removed_at": row.removed_at.isoformat() if row.removed_at else None,
            }
            for row in Inference.objects.filter(customer=customer).order_by("code")
        ],
    }


def message_times(customer_ids, *, since, until, exclude_topics=()) -> dict[int, list]:
    """Per customer, when the messages reported between ``since`` and ``until`` were sent (what caps count)."""
    times: dict[int, list] = {}
    if connection.vendor == "postgresql":
        # Array parameters: a batch of decisions asks about thousands of customers at once.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT customer_id, sent_at FROM customers_messagerecord WHERE customer_id = ANY(%s) "
                "AND sent_at >= %s AND sent_at < %s AND NOT (topic = ANY(%s))",
                [list(customer_ids), since, until, list(exclude_topics)],
            )
            rows = cursor.fetchall()
    else:
        rows = (
            MessageRecord.objects.filter(customer_id__in=customer_ids, sent_at__gte=since, sent_at__lt=until)
            .exclude(topic__in=exclude_topics)
            .values_list("customer_id", "sent_at")
        )
    for customer_id, sent_at in rows:
        times.setdefault(customer_id, []).append(sent_at)
    return times


def messages_received(customer: Customer, *, since) -> list[MessageRecord]:
    """The messages reported for the customer since ``since``, newest first: what they got back."""
    return list(MessageRecord.objects.filter(customer=customer, sent_at__gte=since).order_by("-sent_at"))
