from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache

from apps.consent.models import ConsentEvent

from .models import ImportRun


def import_runs():
    return ImportRun.objects.all()


@dataclass(frozen=True)
class TracedEvent:
    file_name: str
    row: int
    external_id: str
    sequence: int
    purpose: str
    state: str
    captured_at: datetime


def traced_events(run_id: int) -> Iterator[TracedEvent] | None:
    """Every ledger event the run wrote, in file order: its evidence names the run and the row."""
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    events = (
        ConsentEvent.objects.filter(source=ConsentEvent.Source.IMPORT, evidence__import_run=run.pk)
        .select_related("customer")
        .order_by("customer_id", "sequence")
    )
    return iter(
        sorted(
            (
                TracedEvent(
                    file_name=run.file_name,
                    row=event.evidence["row"],
                    external_id=event.customer.external_id,
                    sequence=event.sequence,
                    purpose=event.purpose,
                    state=event.state,
                    captured_at=event.effective_at,
                )
                for event in events
            ),
            key=lambda trace: (trace.row, trace.sequence),
        )
    )


def progress_key(run_id: int) -> str:
    """Where a run's summary after its latest batch is kept (``services.import_consents`` writes it)."""
    return f"imports:progress:{run_id}"


def run_progress(run: ImportRun) -> dict:
    """What the run has done: its summary once finished, else the summary after its latest batch (or nothing)."""
    if run.finished_at:
        return run.summary
    return cache.get(progress_key(run.pk)) or {}
