from typing import Any

from django.core.management.base import BaseCommand

from apps.consent.services import expire_consents


class Command(BaseCommand):
    help = (
        "Record an expiry for every time-boxed consent whose time is up (Celery beat runs this every minute)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Expired {expire_consents()} time-boxed consent(s).")
