from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.api.services import idempotency_records_prune


class Command(BaseCommand):
    help = "Forget Idempotency-Key answers older than --hours (default 24): a retry after that records anew."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=24)

    def handle(self, *args, hours, **options):
        removed = idempotency_records_prune(before=timezone.now() - timedelta(hours=hours))
        self.stdout.write(f"Forgot {removed} Idempotency-Key answer(s) older than {hours} hour(s).")
