from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import ImportRun
from .services import import_consents


# Acknowledged on receipt, unlike the other tasks: a run outlives the broker's visibility timeout, and a second
# worker must not start the same file beside the first. A worker lost mid-run leaves the run unfinished; its
# batches are kept, and uploading the file again resumes it.
@shared_task(
    acks_late=False,
    time_limit=settings.IMPORT_TASK_TIME_LIMIT,
    soft_time_limit=settings.IMPORT_TASK_TIME_LIMIT - 60,
)
def run_import(run_id: int, path: str, map_path: str | None = None, exported_at: str | None = None) -> dict:
    """Work a run ``start_import`` created (the console's upload); its page polls the progress."""
    run = ImportRun.objects.get(pk=run_id)
    try:
        summary = import_consents(
            path=path,
            fmt=run.format,
            source=run.source,
            map_path=map_path,
            dry_run=run.dry_run,
            exported_at=datetime.fromisoformat(exported_at) if exported_at else None,
            run=run,
        )
    except Exception as error:
        # The page stops polling and says why; every finished batch stays (running the file again resumes).
        ImportRun.objects.filter(pk=run_id).update(finished_at=timezone.now(), error=str(error)[:500])
        raise
    return summary.as_dict()
