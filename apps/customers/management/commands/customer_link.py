from django.core.management.base import BaseCommand, CommandError

from apps.customers.links import page_url, rotate_link_key
from apps.customers.selectors import customer_by_email_or_id


class Command(BaseCommand):
    help = "Print a signed link that opens the preference page for one customer (or revoke all their links)."

    def add_arguments(self, parser):
        parser.add_argument("customer", help="email address, external id or id")
        parser.add_argument(
            "--revoke",
            action="store_true",
            help="rotate the customer's link key first: every older link stops and every session ends "
            "(one-click unsubscribe links keep working)",
        )

    def handle(self, *args, customer, revoke, **options):
        found = customer_by_email_or_id(customer)
        if found is None:
            raise CommandError(f"No customer matches {customer!r}.")
        if revoke:
            rotate_link_key(found)
            self.stderr.write(
                f"Revoked every earlier link of customer {found.external_id} and ended their sessions."
            )
        self.stdout.write(page_url(found))
