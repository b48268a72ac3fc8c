from typing import Any

from django.core.management.base import BaseCommand

from apps.consent.services import rebuild_snapshot
from apps.customers.models import Customer


class Command(BaseCommand):
    help = "Rebuild every customer's snapshot from the ledger (the ledger is the truth; the snapshot a projection)."

    def handle(self, *args: Any, **options: Any) -> None:
        rebuilt = drifted = 0
        for customer in Customer.objects.filter(consent_events__isnull=False).distinct().iterator():
            drifted += rebuild_snapshot(customer=customer)
            rebuilt += 1
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {rebuilt} snapshots; {drifted} differed from the ledger and were repaired."
            )
        )
