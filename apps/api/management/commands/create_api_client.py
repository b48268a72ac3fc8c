from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.api.models import ApiClient
from apps.api.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client and print its key (shown only once; Candor keeps only a hash of it)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="a slug, recorded in the ledger as api:<name>")
        parser.add_argument(
            "--scopes", nargs="+", required=True, choices=ApiClient.Scope.values, help="what the key may do"
        )

    def handle(self, *args, name, scopes, **options):
        try:
            client, raw_key = api_client_create(name=name, scopes=scopes)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Created API client {client.name} with scopes {', '.join(client.scopes)}.")
        self.stdout.write("Its key, shown only now:")
        self.stdout.write(raw_key)
