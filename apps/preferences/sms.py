"""Where verification codes go. ``settings.SMS_BACKEND`` names the class; the demo prints texts to the console."""

import sys

# What LocmemSmsBackend "sent", like Django's mail.outbox (tests read it).
outbox: list[dict] = []


class ConsoleSmsBackend:
    def send(self, *, to: str, text: str) -> None:
        sys.stdout.write(f"SMS to {to}: {text}\n")


class LocmemSmsBackend:
    def send(self, *, to: str, text: str) -> None:
        outbox.append({"to": to, "text": text})
