import tomllib
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.consent.services import publish_legacy_notice_version


class Command(BaseCommand):
    help = (
        "Publish the wording a source system showed before Candor (a legacy notice version), for consent imported "
        "from it. The file holds one table per language with what_we_ask, what_you_get, what_we_do and "
        "what_we_never_do; English is required."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("purpose", help="e.g. channel:email or topic:news")
        parser.add_argument(
            "--source", required=True, help="the source system's name, as given to import_consents"
        )
        parser.add_argument("--wording", required=True, help='a TOML file: [en] what_we_ask = "…" …')

    def handle(self, *args: Any, purpose: str, source: str, wording: str, **options: Any) -> None:
        try:
            with open(wording, "rb") as file:
                texts = tomllib.load(file)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise CommandError(f"Cannot read {wording}: {error}") from error
        try:
            version = publish_legacy_notice_version(purpose=purpose, source=source, texts=texts)
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        self.stdout.write(
            self.style.SUCCESS(f"Published {version} (id {version.pk}, text hash {version.text_hash}).")
        )
