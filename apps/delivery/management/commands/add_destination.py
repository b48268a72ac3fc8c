from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.delivery import services
from apps.delivery.models import Destination


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = "Add a destination for permission documents. Prints a webhook's signing secret once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", choices=Destination.Kind.values, default=Destination.Kind.WEBHOOK)
        parser.add_argument("--endpoint", required=True, help="Webhook URL, API base URL or amqp:// URL.")
        parser.add_argument(
            "--secret", default="", help="API key for vendors; webhooks get a fresh whsec_ secret."
        )
        parser.add_argument(
            "--option", action="append", default=[], metavar="KEY=VALUE", help="e.g. exchange=…"
        )
        parser.add_argument(
            "--rate-limit", type=float, help="Requests per second; default: the kind's limit."
        )
        parser.add_argument("--batch-size", type=int)
        parser.add_argument(
            "--purposes", type=_csv, default=[], help="e.g. email,sms,location; default: all."
        )
        parser.add_argument(
            "--identifiers", type=_csv, default=["external_id"], help="external_id,email,phone"
        )
        parser.add_argument("--queue", default="")
        parser.add_argument("--disabled", action="store_true")

    def handle(self, *args, **options):
        try:
            extra = dict(option.split("=", 1) for option in options["option"])
        except ValueError as error:
            raise CommandError("Options are KEY=VALUE.") from error
        try:
            destination = services.add_destination(
                name=options["name"],
                kind=options["kind"],
                endpoint=options["endpoint"],
                secret=options["secret"],
                options=extra,
                rate_limit=options["rate_limit"],
                batch_size=options["batch_size"],
                purposes=options["purposes"],
                identifiers=options["identifiers"],
                queue=options["queue"],
                enabled=not options["disabled"],
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        self.stdout.write(
            f"Added {destination.kind} destination {destination.name} → {destination.endpoint} "
            f"({destination.rate_limit:g}/s, batches of {destination.batch_size}, "
            f"{'enabled' if destination.enabled else 'disabled'})."
        )
        if destination.kind == Destination.Kind.WEBHOOK:
            self.stdout.write(f"Signing secret (shown once, give it to the receiver): {destination.secret}")
        self.stdout.write(f"Existing customers are not sent yet: run resync_destination {destination.name}.")
