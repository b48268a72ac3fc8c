"""Inbound sources (providers that report a customer's unsubscribe, complaint or STOP back to Candor) and the
events they sent, kept by the provider's event id so a retried delivery is recorded once.

No personal data here: an event names the customer by surrogate key, never by address, number or message text
(a text nobody could classify waits for staff in ``apps.customers.models.HeldMessage``, which erasure blanks).
"""

from django.db import models

from apps.customers.models import Customer


class InboundSource(models.Model):
    class Kind(models.TextChoices):
        TWILIO = "twilio", "Twilio Messaging (incoming messages)"
        SENDGRID = "sendgrid", "SendGrid Event Webhook"
        POSTMARK = "postmark", "Postmark SubscriptionChange"
        MAILCHIMP = "mailchimp", "Mailchimp list webhook"
        BRAZE = "braze", "Braze subscription-group state changes"
        GENERIC = "generic", "Generic (Standard Webhooks)"

    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    channel = models.CharField(
        max_length=20,
        help_text="Candor channel whose marketing an unmapped scope withdraws (e.g. email, sms).",
    )
    scopes = models.JSONField(
        default=dict,
        blank=True,
        help_text='Provider scope → Candor purposes, e.g. {"12345": {"channel": "email", "topics": ["news"]}}: '
        "a SendGrid group, Mailchimp list, Postmark stream, Braze subscription group, Twilio number or "
        "messaging service. No topics: the whole channel.",
    )
    signing_key = models.CharField(
        max_length=200,
        blank=True,
        help_text="What signatures are computed with: Twilio's auth token or a whsec_ secret. Write-only.",
    )
    secret_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the URL secret, bearer token or basic-auth password."
    )
    username = models.CharField(max_length=100, blank=True, help_text="Basic-auth user (Postmark).")
    public_key = models.TextField(blank=True, help_text="SendGrid's verification key (base64 DER or PEM).")
    help_text = models.CharField(
        max_length=320, blank=True, help_text="Answer to HELP (Twilio); empty: a default naming the brand."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def actor(self) -> str:
        return f"inbound:{self.name}"


class InboundEvent(models.Model):
    """One provider event as received, and what became of it."""

    class Outcome(models.TextChoices):
        RECORDED = "recorded", "Recorded in the ledger"
        UNCHANGED = "unchanged", "Already so: nothing to record"
        STALE = "stale", "Older than the customer's newer choice: history only"
        ECHO = "echo", "Echo of a change Candor pushed"
        REVIEW = "review", "Waiting for staff review"
        UNKNOWN_CUSTOMER = "unknown_customer", "No customer with that address or number"
        FLAGGED = "flagged", "Deliverability flag (bounce), not consent"
        ANSWERED = "answered", "Answered (HELP)"
        IGNORED = "ignored", "Not about consent"

    source = models.ForeignKey(InboundSource, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField(max_length=200, help_text="The provider's id: sg_event_id, MessageSid, …")
    kind = models.CharField(
        max_length=40, help_text="The provider's event type, e.g. group_unsubscribe, STOP."
    )
    customer = models.ForeignKey(Customer, null=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=20, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    occurred_at = models.DateTimeField(help_text="When the customer acted, by the provider's clock.")
    received_at = models.DateTimeField()
    recorded_at = models.DateTimeField(null=True, blank=True, help_text="When the ledger took it.")
    ledger_events = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="inbound_event_once_per_source"),
        ]
        indexes = [models.Index(fields=["received_at"], name="inbound_event_received")]

    def __str__(self):
        return f"{self.source_id}:{self.event_id} {self.outcome}"
