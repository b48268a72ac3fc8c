"""What every API view shares: the scope check, problem responses in the schema, and customer lookup."""

from types import UnionType
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin, get_type_hints, is_typeddict

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from apps.consent.documents import IsoDateTime, PermissionBody

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
    errors = ProblemFieldSerializer(many=True, required=False)  # type: ignore[assignment]  # a field named like a Field attribute


def problems(*codes: int) -> dict:
    """Schema entries for the problem+json answers an operation can give (401, 403, 429 always)."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemSerializer, description=PROBLEM_DESCRIPTIONS[code]
        )
        for code in sorted({401, 403, 429, *codes})
    }


class ApiView(APIView):
    required_scopes: dict[str, str] = {}

    def get_customer(self, external_id: str):
        customer = customer_by_external_id(external_id)
        if customer is None:
            raise Http404("No customer with this external id.")
        return customer


def serializer_for(schema: Any) -> type[serializers.Serializer]:
    """A serializer describing one of the core's permission-document ``TypedDict``s, so the API documents the
    document as ``apps.consent.documents`` declares it (named after it: ``ChannelPermission`` and so on)."""
    hints = get_type_hints(schema, include_extras=True)
    fields = {name: _field(hint, required=name in schema.__required_keys__) for name, hint in hints.items()}
    return type(f"{schema.__name__}Serializer", (serializers.Serializer,), fields)


def _field(hint: Any, required: bool = True, child: bool = False) -> serializers.Field:
    kwargs: dict[str, Any] = {} if required else {"required": False}
    if get_origin(hint) is NotRequired:
        hint = get_args(hint)[0]
    if get_origin(hint) is Annotated:
        hint, kwargs["help_text"] = get_args(hint)[0], get_args(hint)[1]
    if get_origin(hint) in (Union, UnionType) and type(None) in get_args(hint):
        (hint,) = (arg for arg in get_args(hint) if arg is not type(None))
        kwargs["allow_null"] = True
    if is_typeddict(hint):
        return serializer_for(hint)(**kwargs)
    if get_origin(hint) is list:
        return serializers.ListField(child=_field(get_args(hint)[0]), **kwargs)
    if get_origin(hint) is dict:
        return serializers.DictField(child=_field(get_args(hint)[1]), **kwargs)
    return {
        bool: serializers.BooleanField,
        int: serializers.IntegerField,
        IsoDateTime: serializers.DateTimeField,
    }.get(hint, serializers.CharField)(**kwargs)


PermissionBodySerializer = serializer_for(PermissionBody)


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
