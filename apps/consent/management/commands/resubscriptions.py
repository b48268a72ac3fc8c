from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.consent.selectors import resubscriptions


def _date(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--since takes a date or time (ISO 8601), not {value!r}.") from error
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "List every purpose that went from withdrawn to given since a date, with who and how; exits non-zero "
        "if any was not the customer's own explicit action (the target is none)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, type=_date, help="e.g. 2026-11-01")

    def handle(self, *args: Any, since: datetime, **options: Any) -> None:
        rows = list(resubscriptions(since=since))
        for row in rows:
            self.stdout.write(
                f"{row.external_id}\t{row.purpose}\twithdrawn #{row.withdrawn_sequence}\t"
                f"given #{row.event.sequence} at {row.event.recorded_at:%Y-%m-%d %H:%M:%S}\t"
                f"{row.event.source}\t{row.event.actor}\t{'explicit' if row.explicit else 'NOT EXPLICIT'}"
            )
        implicit = sum(not row.explicit for row in rows)
        self.stdout.write(
            f"{len(rows)} resubscription(s) since {since:%Y-%m-%d}; {implicit} without an explicit customer action."
        )
        if implicit:
            raise CommandError(f"{implicit} resubscription(s) without an explicit customer action.")
