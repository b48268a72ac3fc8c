from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalog.models import NoticeVersion
from apps.consent.services import invalidate_superseded_consents, publish_notice_version


class Command(BaseCommand):
    help = "Publish a notice version. A material version invalidates consents given under older versions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("purpose", help="e.g. channel:email, topic:new-arrivals, location")
        parser.add_argument("number", type=int, help="the version number to publish")

    def handle(self, *args: Any, purpose: str, number: int, **options: Any) -> None:
        version = NoticeVersion.objects.filter(notice__purpose=purpose, number=number).first()
        if version is None:
            raise CommandError(f"There is no version {number} of the notice for {purpose!r}.")
        if version.is_published:
            # Finishes a publication that stopped part-way; a no-op when there is nothing left to invalidate.
            invalidated = invalidate_superseded_consents(version=version)
            self.stdout.write(f"{version} was already published; {invalidated} consent(s) invalidated now.")
            return
        try:
            invalidated = publish_notice_version(version=version)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Published {version}; {invalidated} consent(s) under older versions invalidated."
            )
        )
