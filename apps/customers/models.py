import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models


def new_link_key() -> str:
    return secrets.token_urlsafe(24)


e164 = RegexValidator(
    r"^\+[1-9]\d{6,14}$", "Enter the phone number in international form, e.g. +4915112345678."
)


class Customer(models.Model):
    """The person the data is about, keyed by the brand's own id.

    The ledger refers to customers only by this row's surrogate key, so erasing the personal fields
    here leaves every consent chain verifiable.
    """

    class Locale(models.TextChoices):
        EN = "en", "English"
        DE = "de", "Deutsch"

    external_id = models.CharField(max_length=100, unique=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=16, blank=True, db_index=True, validators=[e164])
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=10, choices=Locale.choices, default=Locale.EN)
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    link_key = models.CharField(
        max_length=64,
        default=new_link_key,
        editable=False,
        help_text="Part of every signed link's key: rotating it revokes all links sent so far.",
    )
    phone_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer proved they receive texts at this number."
    )
    email_undeliverable_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Since when mail to this address bounces or was cleaned (a deliverability flag, not a consent).",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
        help_text="The login account (email code) linked to this customer, if any.",
    )
    inferences_revision = models.PositiveIntegerField(
        default=0,
        db_default=0,
        editable=False,
        help_text="Counts changes of what the brand infers about the customer, so each shows in the next "
        "permission document (the inferences themselves never enter it).",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.external_id


class EvidenceNote(models.Model):
    """Free text that came with a recorded change (an agent's note, a caller's comment), kept out of the ledger.

    The ledger is append-only and must hold nothing personal, yet free text may name or reach someone: the
    event's evidence holds only this row's id and a keyed hash of the text (``note_id``, ``note_hash``), and
    erasure blanks the text here, so every chain still verifies and nothing personal stays.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="evidence_notes")
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"note {self.pk} of {self.customer_id}"


class CustomerSession(models.Model):
    """A session that holds something of this customer's (a signed link's, a code request's or a code login's).

    Sessions are stored by key alone; this row lets erasure and link revocation end them at once rather than
    leave the address in a session row until it expires.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "session_key"], name="customer_session_unique"),
        ]

    def __str__(self):
        return f"session of {self.customer_id}"


class MessageRecord(models.Model):
    """A sender's report of one message it sent the customer, and for which purpose. No content.

    Not part of the ledger: it feeds the weekly cap and the customer's "what you got back", and is deleted
    with the customer's identity on erasure. Channel, topic and benefit are catalog codes (this app does not
    import the catalog).
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="message_records")
    sender = models.CharField(max_length=100, help_text="The API client that reported it.")
    message_id = models.CharField(max_length=200, help_text="The sender's own id for the message.")
    channel = models.CharField(max_length=20)
    topic = models.CharField(max_length=50)
    benefit = models.CharField(max_length=50, blank=True, help_text="A benefit kind's code, or blank.")
    sent_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "message_id"], name="message_record_unique_per_sender")
        ]
        indexes = [models.Index(fields=["customer", "sent_at"], name="message_record_customer_sent")]

    def __str__(self):
        return f"{self.sender}:{self.message_id}"


class HeldMessage(models.Model):
    """A customer's own words that no rule could read for sure (an SMS reply such as "not now thanks"), held
    for staff to decide. Personal free text: never in the ledger, blanked when the customer is erased."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="held_messages")
    channel = models.CharField(max_length=20)
    body = models.TextField()
    origin = models.CharField(max_length=80, help_text="Where it came from, e.g. inbound:twilio-main.")
    received_at = models.DateTimeField()
    deadline_at = models.DateTimeField(help_text="If it is a revocation, it must be honoured by then.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=20, blank=True, help_text="revocation or not_revocation.")

    class Meta:
        ordering = ["deadline_at", "id"]
        indexes = [
            models.Index(
                fields=["deadline_at"], condition=models.Q(resolved_at=None), name="held_message_open"
            )
        ]

    def __str__(self):
        return f"held message {self.pk} of {self.customer_id}"


class ProfileAnswer(models.Model):
    """What the customer told us about themselves for one profile question: personal data, kept out of the ledger.

    The ledger event that shares it holds this row's id and a keyed hash of the answer; a new answer replaces
    the row, forgetting the question deletes it, and erasure deletes them all, so proof can show that an answer
    was given and, while it is held, which. ``question`` and ``answer`` are catalog codes (this app does not
    import the catalog).
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="profile_answers")
    question = models.CharField(max_length=40)
    notice_version_id = models.PositiveIntegerField(help_text="The question version the customer answered.")
    answer = models.JSONField(help_text="The chosen option codes, in the question's order.")
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["customer_id", "question"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "question"], name="profile_answer_one_per_question")
        ]

    def __str__(self):
        return f"{self.customer_id}:{self.question}"


class Inference(models.Model):
    """Something the brand's systems inferred about the customer (a segment, an attribute) and reported through
    the API, with a plain-language label and its source. Personal data, erasable, never in the ledger.

    A customer who removes one ("this is wrong", "don't use this") leaves it here as removed: a later report
    cannot bring it back, and destinations are told to delete it.
    """

    class Removal(models.TextChoices):
        WRONG = "wrong", "This is wrong"
        DONT_USE = "dont_use", "Don't use this"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="inferences")
    code = models.SlugField(max_length=60)
    label = models.JSONField(help_text='Per language, e.g. {"en": "Runs often", "de": "Läuft oft"}.')
    source = models.CharField(max_length=120, help_text="Where it comes from, in plain words.")
    purpose = models.CharField(max_length=80, help_text="The purpose it serves, e.g. personalization.")
    reported_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    removal = models.CharField(max_length=8, choices=Removal.choices, blank=True)

    class Meta:
        ordering = ["customer_id", "code"]
        constraints = [models.UniqueConstraint(fields=["customer", "code"], name="inference_one_per_code")]

    def __str__(self):
        return f"{self.customer_id}:{self.code}"


class Exposure(models.Model):
    """One showing of a notice version to a customer: the denominator of every opt-in rate (docs/insights.md).

    Not in the ledger: there are many more showings than choices, and proof of consent rests on the ledger alone
    (the version a choice was recorded under is the wording shown). Deleted with the customer's identity on
    erasure and after ``EXPOSURE_RETENTION_DAYS``.
    """

    class Surface(models.TextChoices):
        PAGE = "page", "Preference page"
        REASK = "reask", "Re-ask after a material change"
        LEAVE = "leave", "Leave page's offers"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="exposures")
    # By name, not import: customers sits beside the catalog, below consent (pyproject's import layers).
    notice_version = models.ForeignKey("catalog.NoticeVersion", on_delete=models.PROTECT, related_name="+")
    surface = models.CharField(max_length=10, choices=Surface.choices)
    shown_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["notice_version", "shown_at"], name="exposure_version_shown")]

    def __str__(self):
        return f"{self.notice_version_id} shown to {self.customer_id} ({self.surface})"
