import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.consent.selectors import checkpoint_export, latest_checkpoint
from apps.consent.services import LedgerRewound, take_ledger_checkpoint


class Command(BaseCommand):
    help = (
        "Anchor every consent chain's head in a signed checkpoint (Celery beat takes one every "
        "LEDGER_CHECKPOINT_SECONDS) and print it as JSON, to keep somewhere the database's owners cannot write."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--latest", action="store_true", help="Print the latest checkpoint; take none.")
        parser.add_argument(
            "--heads",
            action="store_true",
            help="Include every anchored head, to recompute the root elsewhere.",
        )

    def handle(self, *args: Any, latest: bool = False, heads: bool = False, **options: Any) -> None:
        if latest:
            checkpoint = latest_checkpoint()
            if checkpoint is None:
                raise CommandError("No checkpoint has been taken yet.")
        else:
            try:
                checkpoint = take_ledger_checkpoint()
            except LedgerRewound as error:
                raise CommandError(f"No checkpoint taken: {error}") from error
        self.stdout.write(json.dumps(checkpoint_export(checkpoint, heads=heads), indent=2))
