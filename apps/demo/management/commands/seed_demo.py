from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from apps.demo.seeding import seed_demo


class Command(BaseCommand):
    help = (
        "Seed the demo: the Candor Outfitters catalog, published notices, and demo customers with a consent "
        "history. Safe to run again: it records nothing for customers who already have a history."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers", type=int, default=300, help="How many demo customers (default 300)."
        )

    def handle(self, *args, customers, **options):
        if customers < 0:
            raise CommandError("--customers must be 0 or more.")
        try:
            seeded = seed_demo(customers=customers)
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo seeded: catalog up to date, {seeded.published} notice version(s) published; "
                f"{seeded.created} customer(s) created, {seeded.existing} already there; "
                f"{seeded.events} consent event(s) recorded for {seeded.histories} customer(s)."
            )
        )
