from django.core.management.base import BaseCommand
from django.urls import reverse

from apps.delivery import services
from apps.delivery.models import Destination

SANDBOX = "sandbox"


class Command(BaseCommand):
    help = "Add the demo's sandbox destination: signed webhooks to the in-app receiver, shown to staff at /support/sandbox/."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        if Destination.objects.filter(name=SANDBOX).exists():
            self.stdout.write("The sandbox destination exists already.")
            return
        # The demo history seeded before it is not sent: the sandbox shows changes made from now on.
        while services.fan_out_outbox().entries:
            pass
        services.add_destination(
            name=SANDBOX,
            kind=Destination.Kind.WEBHOOK,
            endpoint=base_url.rstrip("/") + reverse("delivery:sandbox_receive", args=[SANDBOX]),
            identifiers=["external_id", "email"],
            batch_size=10,
        )
        self.stdout.write(
            f"Added the sandbox destination: watch changes arrive at {base_url}/support/sandbox/"
        )
