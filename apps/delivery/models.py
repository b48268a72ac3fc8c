"""Destinations, and the deliveries of permission documents to them.

A delivery is one permission-document version on its way to one destination. The cursor per destination and
customer remembers the last version the destination acknowledged; a sender holds a lease on it (a token and an
expiry, claimed with a conditional UPDATE) while it sends, so two versions for the same customer never travel to
the same destination at once, and no database transaction or row lock stays open across a network request.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.consent.models import PermissionDocument
from apps.customers.models import Customer

from .adapters.network import endpoint_problem


class Destination(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Signed webhook (Standard Webhooks)"
        RABBITMQ = "rabbitmq", "RabbitMQ (AMQP, publisher confirms)"
        BRAZE = "braze", "Braze (/users/track)"

    IDENTIFIERS = ("external_id", "email", "phone")

    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    endpoint = models.CharField(max_length=500, help_text="URL of the webhook or API, or amqp:// URL.")
    secret = models.CharField(
        max_length=200, blank=True, help_text="whsec_… signing secret for webhooks, API key for vendors."
    )
    previous_secret = models.CharField(max_length=200, blank=True)
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then every message is signed with the old secret as well."
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="Kind-specific: exchange and routing_key, subscription groups…"
    )
    rate_limit = models.FloatField(
        default=0, help_text="Requests per second across all workers; 0: no limit."
    )
    batch_size = models.PositiveIntegerField(default=10, help_text="Documents per request or per task.")
    purposes = models.JSONField(
        default=list,
        blank=True,
        help_text="Parts of the document it may receive: channel codes, location, personalization. Empty: all. "
        "Add profile to also send what the customer told us (and, at depth activity, inferences): only by name.",
    )
    identifiers = models.JSONField(default=list, blank=True, help_text="external_id, email, phone.")
    queue = models.CharField(
        max_length=100, blank=True, help_text="Celery queue for its sends; empty: the shared delivery queue."
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    resync_after_customer = models.BigIntegerField(
        null=True, blank=True, help_text="Where an interrupted resync resumes."
    )
    held_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="It asked us to wait (429/503 Retry-After): nothing is sent before then.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        # Every door that saves a destination (add_destination, the admin) validates through full_clean.
        unknown = sorted(set(self.identifiers or []) - set(self.IDENTIFIERS))
        if unknown:
            raise ValidationError({"identifiers": f"Unknown identifier(s): {', '.join(unknown)}."})
        if self.kind in self.Kind.values and (problem := endpoint_problem(self.kind, self.endpoint)):
            raise ValidationError({"endpoint": problem})


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        SUPERSEDED = "superseded", "Superseded by a newer version"
        DEAD = "dead", "Dead (retries exhausted or refused)"

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="deliveries")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    document = models.ForeignKey(PermissionDocument, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    resync = models.BooleanField(default=False, help_text="Sent even if the destination has this version.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["destination", "next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
            models.Index(fields=["destination", "customer", "status"], name="delivery_pair_status"),
            models.Index(fields=["destination", "status"], name="delivery_destination_status"),
        ]

    def __str__(self):
        return f"{self.message_id} → {self.destination_id}"

    @property
    def message_id(self) -> str:
        """The idempotency key receivers dedupe by (``webhook-id``)."""
        return f"msg_{self.pk}"


class DeliveryCursor(models.Model):
    """The last version a destination acknowledged for a customer; its lease serialises their sends."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="cursors")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    delivered_version = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["destination", "customer"], name="delivery_cursor_unique"),
        ]
        indexes = [
            models.Index(
                fields=["destination", "leased_until"],
                condition=Q(lease_token__isnull=False),
                name="delivery_cursor_leased",
            ),
        ]

    def __str__(self):
        return f"{self.destination_id}/{self.customer_id} at v{self.delivered_version}"
