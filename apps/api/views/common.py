"""What every API view shares: the scope check, problem responses in the schema, and customer lookup."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from ..exceptions import PROBLEM_CONTENT_TYPE
from ..selectors import customer_by_external_id

PROBLEM_DESCRIPTIONS = {
    400: "The request is not valid (field-level detail in `errors`); nothing was written.",
    401: "No API key, an unknown one, or a revoked one.",
    403: "The API key lacks the scope this operation needs.",
    404: "No customer with this external id.",
    422: "The Idempotency-Key was already used for a different request.",
    429: "Too many requests from this client; retry after `Retry-After` seconds.",
}


EXTERNAL_ID = OpenApiParameter(
    "external_id",
    str,
    OpenApiParameter.PATH,
    description="The brand's own id for the customer.",
    examples=[OpenApiExample("A customer", value="crm-12345")],
)


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF would otherwise turn 0 into "0" where the schema says string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, not "5" nor 5.0 nor true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ProblemFieldSerializer(serializers.Serializer):
    pointer = serializers.CharField(help_text="JSON Pointer to the field, e.g. #/choices/0/purpose.")
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = ProblemFieldSerializer(many=True, required=False)


def problems(*codes: int) -> dict:
    """Schema entries for the problem+json answers an operation can give (401, 403, 429 always)."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description=PROBLEM_DESCRIPTIONS[code]
        )
        for code in sorted({401, 403, 429, *codes})
    }


def at_index(error: DjangoValidationError, field: str) -> DjangoValidationError:
    """The core keys a list's errors ``<index>/<field>``; the answer points into the request's list."""
    return DjangoValidationError({f"{field}/{key}": messages for key, messages in error.message_dict.items()})


class ApiView(APIView):
    required_scopes: dict[str, str] = {}

    def get_customer(self, external_id: str):
        customer = customer_by_external_id(external_id)
        if customer is None:
            raise Http404("No customer with this external id.")
        return customer


class QuietHoursSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    timezone = serializers.CharField()


class ChannelPermissionSerializer(serializers.Serializer):
    allowed = serializers.BooleanField(help_text="Whether anything but required messages may be sent.")
    topics = serializers.ListField(child=serializers.CharField())
    required_topics = serializers.ListField(child=serializers.CharField())
    frequency = serializers.CharField(allow_null=True)
    topic_frequency = serializers.DictField(child=serializers.CharField())
    weekly_cap = serializers.IntegerField(allow_null=True)
    paused_until = serializers.CharField(allow_null=True)
    quiet_hours = QuietHoursSerializer(allow_null=True)
    undeliverable_since = serializers.DateTimeField(
        required=False,
        help_text="Email only, and only while the address bounces: a deliverability flag, not consent.",
    )


class LocationPermissionSerializer(serializers.Serializer):
    level = serializers.CharField()
    until = serializers.DateTimeField(allow_null=True)


class ProfileReferencesSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Per profile question the customer shared an answer to: the ledger event that shares it. "
        "The answers themselves go only to destinations configured with `profile`.",
    )
    inferences_revision = serializers.IntegerField(
        help_text="Counts changes of the inferences reported for the customer (PUT …/inferences)."
    )


class PermissionBodySerializer(serializers.Serializer):
    channels = serializers.DictField(child=ChannelPermissionSerializer())
    location = LocationPermissionSerializer()
    personalization = serializers.CharField(allow_null=True)
    profile = ProfileReferencesSerializer(
        required=False,
        help_text="Only for a customer who shared a profile answer or has inferences reported: references, "
        "never the data, so that each change makes a new version.",
    )


@extend_schema_field(PermissionBodySerializer)
class PermissionBodyField(serializers.Field):
    """The permission document as written by the core, passed through unchanged (described in the schema)."""

    def to_representation(self, value):
        return value


class PermissionsOutput(serializers.Serializer):
    external_id = serializers.CharField()
    version = serializers.IntegerField(help_text="0 until the customer first chose anything.")
    updated_at = serializers.DateTimeField(allow_null=True)
    permissions = PermissionBodyField()


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
