"""Output shapes the API's views and its services both write: a ledger event is shown the same wherever it appears
(a consent history page, the answer to a recorded change, which is kept for an idempotent replay)."""

from rest_framework import serializers

from apps.consent.models import ConsentEvent

State = ConsentEvent.State


class LedgerTimeField(serializers.DateTimeField):
    """A ledger time as the ledger writes it (``+00:00``), so an answer replayed for an Idempotency-Key and a
    history page show the same event the same way."""

    def to_representation(self, value):
        return value.isoformat() if value else None


class EventOutput(serializers.Serializer):
    sequence = serializers.IntegerField()
    purpose = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    value = serializers.DictField(allow_null=True)
    notice_version = serializers.IntegerField(source="notice_version_id")
    language = serializers.CharField()
    source = serializers.ChoiceField(choices=ConsentEvent.Source.choices)  # type: ignore[assignment]  # a field named like a Field attribute
    actor = serializers.CharField()
    recorded_at = LedgerTimeField()
    captured_at = LedgerTimeField(
        allow_null=True,
        help_text="When the customer made the choice, if captured elsewhere before it was recorded.",
    )
    expires_at = LedgerTimeField(allow_null=True)
