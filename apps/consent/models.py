"""The ledger of consent events, the snapshot projected from it, and the permission documents derived from that.

Only ``apps.consent.services`` writes these rows; the ledger table also refuses UPDATE, DELETE and TRUNCATE
in the database itself (see migration 0002).
"""

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

from apps.catalog.models import NoticeVersion
from apps.customers.models import Customer

GENESIS_HASH = "0" * 64


class CurrentTransactionId(models.Func):
    """The id of the writing transaction on PostgreSQL (``pg_current_xact_id()``); NULL on SQLite.

    A reader that serves only rows whose transaction id is below its snapshot's xmin knows that every
    transaction that could still add an earlier row has finished, so a change feed ordered by
    ``(commit_xid, id)`` never skips a row that commits late. SQLite serialises writers, so id order is
    commit order there.
    """

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()

    def as_sqlite(
        self, compiler: "SQLCompiler", connection: "BaseDatabaseWrapper", **extra_context: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        return "NULL", ()


class ConsentEvent(models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", "Requested (awaiting confirmation)"
        GIVEN = "given", "Given"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"
        INVALIDATED = "invalidated", "Invalidated by a changed notice"

    class Source(models.TextChoices):
        WEB = "web", "Preference page"
        EMAIL_LINK = "email_link", "Link in an email"
        ONE_CLICK_UNSUBSCRIBE = "one_click_unsubscribe", "One-click unsubscribe"
        GPC = "gpc", "Global Privacy Control"
        SMS_KEYWORD = "sms_keyword", "SMS keyword"
        API = "api", "API"
        SUPPORT_AGENT = "support_agent", "Support agent"
        IMPORT = "import", "Import"
        SYSTEM = "system", "System"
        # Inbound sources: a provider reporting back what the customer did there (apps/inbound).
        TWILIO = "twilio", "Text reply (Twilio)"
        SENDGRID = "sendgrid", "SendGrid"
        POSTMARK = "postmark", "Postmark"
        MAILCHIMP = "mailchimp", "Mailchimp"
        BRAZE = "braze", "Braze"
        INBOUND_WEBHOOK = "inbound_webhook", "Inbound webhook"

    # No index of its own: the unique (customer, sequence) constraint's index serves every lookup by customer,
    # and each index is one more write per change.
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="consent_events", db_index=False
    )
    sequence = models.PositiveIntegerField(help_text="Per customer, from 1, without gaps.")
    purpose = models.CharField(max_length=80)
    state = models.CharField(max_length=12, choices=State.choices)
    value = models.JSONField(null=True, blank=True)
    notice_version = models.ForeignKey(NoticeVersion, on_delete=models.PROTECT, related_name="+")
    language = models.CharField(max_length=10)
    source = models.CharField(max_length=24, choices=Source.choices)
    actor = models.CharField(max_length=120)
    evidence = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField()
    captured_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the customer actually made the choice, if before it was recorded (an import, a late API "
        "write); empty: when it was recorded.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["customer_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "sequence"], name="consent_event_sequence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}#{self.sequence} {self.purpose} {self.state}"

    @property
    def effective_at(self) -> datetime:
        """When the choice took effect: captured elsewhere earlier, or else when it was recorded."""
        return self.captured_at or self.recorded_at

    def canonical_body(self) -> dict[str, Any]:
        """Every recorded field and the previous hash: the object whose canonical bytes the hash covers.

        ``captured_at`` is a key only when set, so events recorded before it existed keep their hashes.
        """
        body = {
            "customer": self.customer_id,
            "sequence": self.sequence,
            "purpose": self.purpose,
            "state": self.state,
            "value": self.value,
            "notice_version": self.notice_version_id,
            "language": self.language,
            "source": self.source,
            "actor": self.actor,
            "evidence": self.evidence,
            "recorded_at": self.recorded_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "prev_hash": self.prev_hash,
        }
        if self.captured_at is not None:
            body["captured_at"] = self.captured_at.isoformat()
        return body

    def canonical_bytes(self) -> bytes:
        """The exact bytes the hash covers: the canonical body in a fixed form (docs/ledger.md)."""
        return json.dumps(
            self.canonical_body(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()


class PermissionDocument(models.Model):
    """What downstream systems may do for one customer, as of one version. Never changed once written."""

    # Served by the unique (customer, version) constraint's index, like the events' customer.
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="permission_documents", db_index=False
    )
    version = models.PositiveIntegerField()
    body = models.JSONField()
    derived_from = models.JSONField(help_text="Ids of the ledger events that hold the current choices.")
    created_at = models.DateTimeField()
    commit_xid = models.BigIntegerField(
        null=True,
        editable=False,
        db_default=CurrentTransactionId(),
        help_text="The writing transaction's id (PostgreSQL), set by the database: the change feed's order.",
    )

    class Meta:
        ordering = ["customer_id", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "version"], name="permission_document_version_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="permission_document_created_at"),
            models.Index(fields=["commit_xid", "id"], name="permission_doc_commit_order"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} v{self.version}"


class Snapshot(models.Model):
    """A customer's current choices: a projection of the ledger that ``rebuild_snapshots`` can always redo."""

    customer = models.OneToOneField(
        Customer, on_delete=models.PROTECT, primary_key=True, related_name="consent_snapshot"
    )
    choices = models.JSONField(default=dict, help_text="Per purpose: the latest event's state and value.")
    last_sequence = models.PositiveIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    next_expiry_at = models.DateTimeField(null=True, blank=True, db_index=True)
    document = models.ForeignKey(PermissionDocument, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"snapshot of {self.customer_id}"


class OutboxEntry(models.Model):
    """A permission document waiting for the delivery side to fan it out to destinations."""

    document = models.OneToOneField(PermissionDocument, on_delete=models.PROTECT, related_name="outbox_entry")
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(dispatched_at__isnull=True), name="outbox_undispatched"
            ),
        ]
        verbose_name_plural = "outbox entries"

    def __str__(self) -> str:
        return f"outbox {self.pk} → {self.document}"


class LedgerCheckpoint(models.Model):
    """Every chain's head at one moment, as a signed Merkle root (docs/ledger.md). Append-only, like the ledger:
    a chain whose newest events vanish behind the triggers' back no longer reaches the head anchored here."""

    taken_at = models.DateTimeField()
    customers = models.PositiveIntegerField(help_text="Chains anchored (customers with at least one event).")
    events = models.PositiveBigIntegerField(
        help_text="Events in those chains: the sum of their head sequences."
    )
    root = models.CharField(max_length=64, help_text="RFC 6962 Merkle tree hash over the heads, hex.")
    signature = models.CharField(max_length=64, help_text="HMAC-SHA256 under LEDGER_CHECKPOINT_KEY, hex.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"checkpoint {self.pk} at {self.taken_at:%Y-%m-%d %H:%M:%S} ({self.customers} chains)"


class CheckpointHead(models.Model):
    """A chain head a checkpoint anchored, stored once: by the first checkpoint that found the chain there."""

    checkpoint = models.ForeignKey(LedgerCheckpoint, on_delete=models.PROTECT, related_name="heads")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", db_index=False)
    sequence = models.PositiveIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "sequence"], name="consent_checkpoint_head_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}#{self.sequence} in checkpoint {self.checkpoint_id}"


# The kinds of inbound report (``InboundReport.kind``) that are a complaint: the customer marked a message as spam.
# One list, as apps/inbound's providers keep them: inbound stops the whole channel on one, and the experiments'
# complaint guardrail counts them.
SENDGRID_SPAM_REPORT = "spamreport"  # SendGrid Event Webhook's event type
POSTMARK_SPAM_COMPLAINT = "suppressed:SpamComplaint"  # Postmark's SubscriptionChange, suppressed as spam
MAILCHIMP_ABUSE = "cleaned:abuse"  # Mailchimp's "cleaned" list webhook with reason "abuse"
GENERIC_COMPLAINED = "complained"  # Candor's own Standard Webhooks shape
COMPLAINT_KINDS = frozenset(
    {SENDGRID_SPAM_REPORT, POSTMARK_SPAM_COMPLAINT, MAILCHIMP_ABUSE, GENERIC_COMPLAINED}
)


class InboundReport(models.Model):
    """One provider report of a customer's unsubscribe, complaint or STOP (``apps/inbound``), as received and
    what became of it: the receipt that proves a revocation was honoured on time, beside the ledger events it
    caused. Kept once per source and provider event id, so a retried delivery is recognised. No personal data:
    the customer by surrogate key, never the address, number or message text."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received: the ledger takes it next"
        RECORDED = "recorded", "Recorded in the ledger"
        UNCHANGED = "unchanged", "Already so: nothing to record"
        STALE = "stale", "Older than the customer's newer choice: history only"
        ECHO = "echo", "Echo of a change Candor pushed"
        REVIEW = "review", "Waiting for staff review"
        UNKNOWN_CUSTOMER = "unknown_customer", "No customer with that address or number"
        FLAGGED = "flagged", "Deliverability flag (bounce), not consent"
        ANSWERED = "answered", "Answered (HELP)"
        IGNORED = "ignored", "Not about consent"

    source_name = models.CharField(max_length=60, help_text="The inbound source's name.")
    provider = models.CharField(
        max_length=24, help_text="The ledger source of what it records, e.g. sendgrid."
    )
    event_id = models.CharField(max_length=200, help_text="The provider's id: sg_event_id, MessageSid, …")
    kind = models.CharField(
        max_length=40, help_text="The provider's event type, e.g. group_unsubscribe, STOP."
    )
    customer = models.ForeignKey(Customer, null=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=20, blank=True)
    revocation = models.BooleanField(default=False, help_text="An unsubscribe, complaint or STOP.")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    occurred_at = models.DateTimeField(help_text="When the customer acted, by the provider's clock.")
    received_at = models.DateTimeField()
    recorded_at = models.DateTimeField(null=True, blank=True, help_text="When the ledger took it.")
    deadline_at = models.DateTimeField(null=True, blank=True, help_text="When the law wants it honoured.")
    ledger_events = models.JSONField(default=list, blank=True)
    topics = models.JSONField(
        default=list,
        blank=True,
        help_text="The topics it withdraws or re-grants on its channel (none: the whole channel).",
    )

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_name", "event_id"], name="inbound_report_once_per_source"
            ),
        ]
        indexes = [
            models.Index(fields=["received_at"], name="inbound_report_received"),
            models.Index(fields=["customer", "received_at"], name="inbound_report_customer"),
            # What the ledger has still to take: the recorder's sweep reads only these.
            models.Index(
                fields=["received_at"], name="inbound_report_waiting", condition=models.Q(outcome="received")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name}:{self.event_id} {self.outcome}"
