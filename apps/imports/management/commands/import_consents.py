from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.imports.formats import FORMATS
from apps.imports.services import import_consents


class Command(BaseCommand):
    help = (
        "Import consent from a platform's export through the write path, with the time each choice was made. "
        "Safe to run again: rows already imported change nothing. --dry-run writes nothing and prints the same "
        "summary. Rejected rows go to FILE.rejected.csv (or .ndjson) beside the input."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument("--source", required=True, help="the source system's name (its legacy notices)")
        parser.add_argument("--map", dest="map_path", help="topics.toml: lists and groups -> topics")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument(
            "--exported-at",
            type=datetime.fromisoformat,
            help="when the export was taken (ISO 8601 with offset): the consent time for Braze, which keeps none",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, file, fmt, source, map_path, dry_run, exported_at, batch_size, **options):
        try:
            summary = import_consents(
                path=file,
                fmt=fmt,
                source=source,
                map_path=map_path,
                dry_run=dry_run,
                exported_at=exported_at,
                batch_size=batch_size,
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        except OSError as error:
            raise CommandError(str(error)) from error
        data = summary.as_dict()
        self.stdout.write("Dry run: nothing was written.\n" if dry_run else f"Import run {summary.run_id}.\n")
        self.stdout.write(f"rows: {data['rows']}")
        self.stdout.write(
            f"customers created: {data['customers_created']}, matched: {data['customers_matched']}"
        )
        events = ", ".join(f"{state} {count}" for state, count in data["events"].items()) or "none"
        self.stdout.write(f"events: {events}")
        self.stdout.write(f"rows kept as history only (a later choice stands): {data['history_only_rows']}")
        self.stdout.write(f"rows with no consent to record: {data['no_consent_rows']}")
        self.stdout.write(f"rows already imported: {data['already_imported_rows']}")
        self.stdout.write(f"addresses flagged undeliverable: {data['undeliverable']}")
        self.stdout.write(f"confirmation mails asked for: {data['confirmations_requested']}")
        rejected = sum(data["rejected"].values())
        self.stdout.write(f"rows rejected: {rejected}")
        for reason, count in data["rejected"].items():
            self.stdout.write(f"  {reason}: {count}")
        if summary.rejected_file:
            self.stdout.write(f"rejected rows written to {summary.rejected_file}")
