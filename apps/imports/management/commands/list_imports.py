from django.core.management.base import BaseCommand, CommandError

from apps.imports.selectors import import_runs, traced_events


class Command(BaseCommand):
    help = "List import runs; with a run id, every ledger event it wrote, traced to its file and row."

    def add_arguments(self, parser):
        parser.add_argument("run", nargs="?", type=int)

    def handle(self, *args, run, **options):
        if run is None:
            for item in import_runs():
                state = "stopped" if item.error else "finished" if item.finished_at else "unfinished"
                state += " (dry run)" if item.dry_run else ""  # a console dry run keeps its run row
                self.stdout.write(
                    f"{item.pk}\t{item.started_at:%Y-%m-%d %H:%M}\t{item.source}\t{item.format}\t{item.file_name}\t"
                    f"{state}\t{item.summary.get('rows', '')} rows"
                )
            return
        traced = traced_events(run)
        if traced is None:
            raise CommandError(f"There is no import run {run}.")
        for trace in traced:
            self.stdout.write(
                f"{trace.file_name} row {trace.row}\tcustomer {trace.external_id}\t#{trace.sequence} "
                f"{trace.purpose} {trace.state}\tcaptured {trace.captured_at:%Y-%m-%d %H:%M:%S}"
            )
