from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.api.services import idempotency_records_prune


class Command(BaseCommand):
    help = (
        "Forget Idempotency-Key answers older than --hours (default API_IDEMPOTENCY_KEY_HOURS): "
        "a retry after that records anew. Celery beat runs this every hour."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=settings.API_IDEMPOTENCY_KEY_HOURS)

    def handle(self, *args, hours, **options):
        removed = idempotency_records_prune(older_than=timedelta(hours=hours))
        self.stdout.write(f"Forgot {removed} Idempotency-Key answer(s) older than {hours} hour(s).")
