"""Inbound sources: providers that report a customer's unsubscribe, complaint or STOP back to Candor.

What each report did is kept on the core floor (``apps.consent.models.InboundReport``), where the support console
and the delivery metrics read it too; a text nobody could classify waits for staff in
``apps.customers.models.HeldMessage``, which erasure blanks.
"""

from django.db import models


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
