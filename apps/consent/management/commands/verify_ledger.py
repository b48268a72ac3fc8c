from django.core.management.base import BaseCommand, CommandError

from apps.consent.models import ConsentEvent
from apps.consent.selectors import ledger_breaks


class Command(BaseCommand):
    help = "Check every customer's consent chain: contiguous sequence numbers and unbroken hashes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--customer", type=int, action="append", help="Only this customer id (repeatable)."
        )

    def handle(self, *args, customer=None, **options):
        breaks = list(ledger_breaks(customer_ids=customer))
        for found in breaks:
            self.stderr.write(f"BROKEN {found}")
        if breaks:
            raise CommandError(
                f"The ledger does not verify: {len(breaks)} broken chain(s); first: {breaks[0]}."
            )
        events = ConsentEvent.objects.all()
        if customer:
            events = events.filter(customer_id__in=customer)
        chains = events.values("customer_id").distinct().count()
        self.stdout.write(self.style.SUCCESS(f"Ledger verifies: {events.count()} events in {chains} chains."))
