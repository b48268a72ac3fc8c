import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from apps.inbound.models import InboundSource
from apps.inbound.services import add_inbound_source

Kind = InboundSource.Kind


class Command(BaseCommand):
    help = (
        "Add an inbound source (a provider that reports unsubscribes, complaints and STOPs back). "
        "Prints, once, what to configure at the provider."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=Kind.values)
        parser.add_argument(
            "--channel", default="", help="Channel an unmapped scope stops (default sms/email)."
        )
        parser.add_argument(
            "--scopes",
            default="{}",
            help='JSON: provider scope → {"channel": …, "topics": […]}, e.g. \'{"123": {"topics": ["news"]}}\'.',
        )
        parser.add_argument("--auth-token", default="", help="Twilio: the account's auth token.")
        parser.add_argument("--public-key", default="", help="SendGrid: the Event Webhook verification key.")

    def handle(self, *args, **options):
        try:
            scopes = json.loads(options["scopes"])
        except ValueError as error:
            raise CommandError("--scopes must be JSON.") from error
        try:
            new = add_inbound_source(
                name=options["name"],
                kind=options["kind"],
                channel=options["channel"],
                scopes=scopes,
                signing_key=options["auth_token"],
                public_key=options["public_key"],
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{key}: {' '.join(value)}" for key, value in error.message_dict.items())
            ) from error
        source, secret = new.source, new.secret
        base = settings.SITE_URL.rstrip("/")
        url = base + reverse("inbound:receive", args=[source.name])
        self.stdout.write(
            f"Added {source.get_kind_display()} source {source.name} (channel {source.channel})."
        )
        self.stdout.write("Shown once; Candor keeps only what it needs to check it:")
        if source.kind == Kind.TWILIO:
            self.stdout.write(f"  Messaging service or number → incoming messages webhook (POST): {url}")
            self.stdout.write("  Requests are checked with the auth token you gave (X-Twilio-Signature).")
        elif source.kind == Kind.SENDGRID:
            self.stdout.write(f"  Mail settings → Event Webhook → HTTP POST URL: {url}")
            self.stdout.write(
                "  Turn on Signed Event Webhook; select unsubscribe, group events, spam report, bounce."
            )
        elif source.kind == Kind.POSTMARK:
            host = base.split("://", 1)
            self.stdout.write(
                f"  Message stream → Webhooks → Subscription change: {host[0]}://{source.username}:{secret}@"
                f"{host[1]}{reverse('inbound:receive', args=[source.name])}"
            )
            self.stdout.write(f"  (basic auth: user {source.username}, password {secret})")
        elif source.kind == Kind.MAILCHIMP:
            secret_url = base + reverse("inbound:receive_with_secret", args=[source.name, secret])
            self.stdout.write(f"  Audience → Settings → Webhooks → Callback URL: {secret_url}")
            self.stdout.write(
                "  Send updates for: unsubscribes, cleaned addresses (and subscribes); only changes made by "
                "subscribers and account admins, NOT by the API (Candor's own pushes would come back as echoes)."
            )
        elif source.kind == Kind.BRAZE:
            self.stdout.write(f"  Currents → Custom HTTP export (or a webhook campaign) URL: {url}")
            self.stdout.write(f"  Authorization: Bearer {secret}")
        else:
            self.stdout.write(f"  POST Standard Webhooks-signed JSON to {url}")
            self.stdout.write(f"  Signing secret: {secret}")
        if not source.scopes:
            self.stdout.write(f"No scopes mapped: every report stops all {source.channel} marketing.")
