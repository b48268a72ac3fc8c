from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from apps.support.services import enrolment_url, invite_staff


class Command(BaseCommand):
    help = (
        "Print a single-use, expiring link with which a staff member sets up their authenticator "
        "(STAFF_INVITE_MAX_AGE); earlier unused links of the account stop working."
    )

    def add_arguments(self, parser):
        parser.add_argument("staff", help="username or email address of the staff account")

    def handle(self, *args, staff, **options):
        user = (
            get_user_model().objects.filter(Q(username=staff) | Q(email__iexact=staff), is_staff=True).first()
        )
        if user is None:
            raise CommandError(f"No staff account matches {staff!r}.")
        try:
            token = invite_staff(staff=user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stderr.write(f"Enrolment link for {user.username} (works once; give it to them only):")
        self.stdout.write(enrolment_url(token))
