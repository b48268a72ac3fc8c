"""What was imported from which file: runs, and each source row once (its source id and content hash).

The ledger events an import writes carry the run and the row number in their evidence, so every event can be
traced back to its file and row; these tables make a re-run of the same file, or of a run that stopped part-way,
change nothing twice.
"""

from django.db import models

from apps.customers.models import Customer


class ImportRun(models.Model):
    source = models.CharField(max_length=40, help_text="The source system's name, e.g. mailchimp-2026.")
    format = models.CharField(max_length=20)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    # A run started from the console exists before its task works it, so its page can show progress; a dry run
    # from the console keeps this row (and nothing else), the command line's keeps none.
    dry_run = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    started_by = models.CharField(
        max_length=40, blank=True, help_text="e.g. staff:12; empty from the command line."
    )
    error = models.CharField(max_length=500, blank=True, help_text="Why the run stopped before its end.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"import {self.pk} {self.source} {self.file_name}"


class ImportRow(models.Model):
    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        HISTORY_ONLY = "history_only", "History only (a later choice stands)"
        NO_CONSENT = "no_consent", "No consent to record"

    run = models.ForeignKey(ImportRun, on_delete=models.PROTECT, related_name="rows")
    row_number = models.PositiveIntegerField(
        help_text="Data row in the file, from 1 (the header not counted)."
    )
    source = models.CharField(max_length=40)
    source_id = models.CharField(max_length=255)
    content_hash = models.CharField(max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)

    class Meta:
        ordering = ["run", "row_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_id", "content_hash"], name="import_row_once_per_content"
            )
        ]

    def __str__(self):
        return f"{self.run_id}:{self.row_number} {self.outcome}"
