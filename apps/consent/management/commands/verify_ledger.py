from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.consent.models import ConsentEvent
from apps.consent.selectors import checkpoint_problem, latest_checkpoint, ledger_breaks


class Command(BaseCommand):
    help = (
        "Check every customer's consent chain: contiguous sequence numbers and unbroken hashes, and every head "
        "a signed checkpoint anchored still there (no newest events removed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customer", type=int, action="append", help="Only this customer id (repeatable)."
        )

    def handle(self, *args: Any, customer: list[int] | None = None, **options: Any) -> None:
        checkpoint = latest_checkpoint()
        problem = checkpoint_problem(checkpoint) if checkpoint else None
        if problem:
            self.stderr.write(f"BROKEN {problem}")
        breaks = list(ledger_breaks(customer_ids=customer))
        for found in breaks:
            self.stderr.write(f"BROKEN {found}")
        if breaks:
            raise CommandError(
                f"The ledger does not verify: {len(breaks)} broken chain(s); first: {breaks[0]}."
            )
        if problem:
            raise CommandError(f"The latest checkpoint does not verify: {problem}.")
        events = ConsentEvent.objects.all()
        if customer:
            events = events.filter(customer_id__in=customer)
        chains = events.values("customer_id").distinct().count()
        self.stdout.write(self.style.SUCCESS(f"Ledger verifies: {events.count()} events in {chains} chains."))
        if checkpoint is None:
            self.stdout.write(
                "No checkpoint yet: removed newest events would go unnoticed (ledger_checkpoint)."
            )
        else:
            self.stdout.write(
                f"Every head checkpoint {checkpoint.pk} ({checkpoint.taken_at:%Y-%m-%d %H:%M:%S} UTC) anchored "
                "is still there."
            )
