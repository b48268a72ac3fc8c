from django.core.management.base import BaseCommand, CommandError

from apps.api.models import ApiClient
from apps.api.services import api_client_revoke


class Command(BaseCommand):
    help = "Revoke an API client's key: every request with it is refused (401) from now on."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            raise CommandError(f"There is no API client named {name!r}.")
        api_client_revoke(client=client)
        self.stdout.write(f"Revoked the key of {client.name} ({client.key_prefix}…).")
