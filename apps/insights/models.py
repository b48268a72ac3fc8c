"""Rollups of what customers choose, kept by Celery beat so that the insights page never scans the ledger.

Two kinds (docs/insights.md): ``ShareCount`` recounts who allows what from the permission documents (the
ledger's projection) and keeps one row set per week; ``Tally`` adds up what happened (answers at the door,
re-asks, double opt-in, leaving, GPC, inbound revocations, showings) from the ledger's and the exposures' new
rows since ``RollupMark``. No row names a customer.
"""

from django.db import models


class ShareCount(models.Model):
    """How many customers allow something (``measure``), as the week's latest recount found them."""

    class Population(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        ASKED = "asked", "Answered in the period"

    week = models.DateField(help_text="The Monday of the week the recount ran in.")
    language = models.CharField(max_length=10, help_text="The customers' language.")
    population = models.CharField(max_length=10, choices=Population.choices)
    measure = models.CharField(
        max_length=120,
        help_text='e.g. "channel:email", "topic:offers:sms", "location:city"; "customers" counts all.',
    )
    customers = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["week", "language", "population", "measure"], name="share_count_unique"
            )
        ]

    def __str__(self):
        return f"{self.week} {self.language} {self.population} {self.measure}: {self.customers}"


class Tally(models.Model):
    """How often something happened in a week (``metric`` and ``key``, e.g. answer / "12:given")."""

    week = models.DateField(help_text="The Monday of the week it happened in (UTC).")
    metric = models.CharField(max_length=30)
    key = models.CharField(max_length=120)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["week", "metric", "key"], name="tally_unique")]

    def __str__(self):
        return f"{self.week} {self.metric} {self.key}: {self.count}"


class RollupMark(models.Model):
    """How far a rollup got: the last row id it counted, and when it last ran."""

    name = models.CharField(max_length=30, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} up to {self.last_id}"
