"""Experiments on the value exchange: variants of one purpose's notice, each a full notice version, shown to the
customers a keyed hash assigns to them (docs/experiments.md).

Nothing here is personal data: an experiment names notice versions and staff, never a customer. Who saw which
variant is in the exposures (``apps.customers.models.Exposure``), what they chose in the ledger.
"""

from django.conf import settings
from django.db import models

from apps.catalog.models import NoticeVersion


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"

    class StopReason(models.TextChoices):
        WINNER = "winner", "Stopped with a winner"
        NO_WINNER = "no_winner", "Stopped without a winner"
        GUARDRAIL = "guardrail", "Stopped by a guardrail"

    name = models.CharField(max_length=100)
    purpose = models.CharField(max_length=80)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_wording = models.CharField(
        max_length=64, blank=True, help_text="Hash of the variants' wording and split as approved."
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when a guardrail stopped it.",
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=10, choices=StopReason.choices, blank=True)
    stop_detail = models.JSONField(
        default=dict, blank=True, help_text="The results when it stopped; for a guardrail, which and where."
    )
    winner = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    published_version = models.ForeignKey(
        NoticeVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The winner's wording, published as the purpose's current version.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose"],
                condition=models.Q(started_at__isnull=False, stopped_at__isnull=True),
                name="one_running_experiment_per_purpose",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.purpose})"

    @property
    def status(self) -> str:
        if self.stopped_at:
            return self.Status.STOPPED
        return self.Status.RUNNING if self.started_at else self.Status.DRAFT


class Variant(models.Model):
    """One arm: a notice version of the experiment's purpose, shown to ``weight`` percent of the customers."""

    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="variants")
    label = models.CharField(max_length=1, help_text="A is the control the others are compared with.")
    notice_version = models.OneToOneField(NoticeVersion, on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveSmallIntegerField(help_text="Percent of the assigned customers.")

    class Meta:
        ordering = ["experiment", "label"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "label"], name="variant_label_unique"),
        ]

    def __str__(self):
        return f"{self.experiment_id} {self.label}"


class ArmCount(models.Model):
    """How many of a variant's customers something happened to (``metric``: shown, opt_in, withdrawal,
    unsubscribe, complaint, deep), as the rollup has counted them (services.roll_up_arms): the results page and
    the guardrail task read these, never the exposures and the ledger."""

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="counts")
    metric = models.CharField(max_length=20)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["variant", "metric"], name="arm_count_unique")]

    def __str__(self):
        return f"{self.variant} {self.metric}: {self.count}"


class ArmRollupMark(models.Model):
    """How far the arms' rollup got in one source (events, exposures, reports): the last row id it counted."""

    name = models.CharField(max_length=20, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} up to {self.last_id}"
