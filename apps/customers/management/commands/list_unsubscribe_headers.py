from django.core.management.base import BaseCommand, CommandError

from apps.customers.links import list_unsubscribe_headers
from apps.customers.selectors import customer_by_email_or_id


class Command(BaseCommand):
    help = "Print the RFC 8058 List-Unsubscribe headers a mailer adds for one customer and one list or topic."

    def add_arguments(self, parser):
        parser.add_argument("customer", help="email address, external id or id")
        parser.add_argument("--topic", help="topic slug; without it, the header unsubscribes from all email")

    def handle(self, *args, customer, topic, **options):
        found = customer_by_email_or_id(customer)
        if found is None:
            raise CommandError(f"No customer matches {customer!r}.")
        scope = f"topic:{topic}" if topic else "channel:email"
        for name, value in list_unsubscribe_headers(found, scope).as_dict().items():
            self.stdout.write(f"{name}: {value}")
