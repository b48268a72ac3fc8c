from django.core.management.base import BaseCommand, CommandError

from apps.delivery import services, tasks
from apps.delivery.models import Destination


class Command(BaseCommand):
    help = "Give dead deliveries a fresh set of retries (all, one destination's, or the given ids)."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="Only this destination's dead deliveries.")
        parser.add_argument("--id", type=int, action="append", dest="ids", help="Only these deliveries.")

    def handle(self, *args, name, ids, **options):
        destination = None
        if name:
            destination = Destination.objects.filter(name=name).first()
            if destination is None:
                raise CommandError(f"No destination named {name!r}.")
        replayed = services.replay_dead(destination=destination, delivery_ids=ids)
        if replayed:
            tasks.sweep.delay()
        self.stdout.write(f"Replayed {replayed} dead deliveries.")
