from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.consent.models import Snapshot
from apps.delivery import services, tasks
from apps.delivery.models import Destination


class Command(BaseCommand):
    help = (
        "Queue every customer's current permission document for a destination, in batches. Resumable: run it "
        "again after an interruption and it continues where it stopped (--restart starts over)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--restart", action="store_true")

    def handle(self, *args, name, batch_size, restart, **options):
        destination = Destination.objects.filter(name=name).first()
        if destination is None:
            raise CommandError(f"No destination named {name!r}.")
        if restart:
            services.restart_resync(destination=destination)
            destination.refresh_from_db()
        start = destination.resync_after_customer or 0
        if start:
            self.stdout.write(f"Resuming after customer id {start}.")
        remaining = Snapshot.objects.filter(document__isnull=False, customer_id__gt=start).count()
        queued = 0
        with tqdm(total=remaining, unit="customer", disable=options["verbosity"] == 0) as progress:
            while count := services.resync_batch(destination=destination, batch_size=batch_size):
                tasks.queue_sends(
                    destination.pk, destination.queue, tasks=count // destination.batch_size + 1
                )
                queued += count
                progress.update(count)
        self.stdout.write(f"Queued {queued} customers' current documents for {destination.name}.")
