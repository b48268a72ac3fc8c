from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from .. import selectors
from .common import EXTERNAL_ID, ApiView, PageQuery, PermissionBodyField, PermissionsOutput, problems

READ = {"GET": "permissions:read"}


class PermissionsAtOutput(serializers.Serializer):
    external_id = serializers.CharField()
    at = serializers.DateTimeField()
    permissions = PermissionBodyField()
    derived_from = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the ledger events that held the choices then."
    )


class CustomerPermissionsApi(ApiView):
    """A customer's current permission document, or (with ``at``) what was allowed at that time."""

    required_scopes = READ

    class AtQuery(serializers.Serializer):
        at = serializers.DateTimeField(
            required=False, help_text="ISO 8601. Answer from the ledger for this point in time."
        )

        def validate_at(self, value):
            if value > timezone.now():
                raise serializers.ValidationError("Must not be in the future.")
            return value

    @extend_schema(
        operation_id="customer_permissions",
        parameters=[
            EXTERNAL_ID,
            AtQuery,
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False),
        ],
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="CustomerPermissions",
                    serializers=[PermissionsOutput, PermissionsAtOutput],
                    resource_type_field_name=None,
                ),
                description="The current document (with an ETag), or with `at` the answer for that time.",
            ),
            304: OpenApiResponse(description="Not modified since the ETag in If-None-Match."),
            **problems(400, 404),
        },
    )
    def get(self, request, external_id):
        if request.query_params:
            query = self.AtQuery(data=request.query_params)
            query.is_valid(raise_exception=True)
        if request.query_params and "at" in query.validated_data:
            answer = selectors.permissions_at(self.get_customer(external_id), query.validated_data["at"])
            return Response(PermissionsAtOutput(answer).data)
        current = selectors.current_permissions(external_id)
        if current is None:
            raise Http404("No customer with this external id.")
        headers = {"ETag": current.etag, "Cache-Control": "private, no-cache"}
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and (current.etag in parse_etags(if_none_match) or if_none_match.strip() == "*"):
            return Response(status=304, headers=headers)
        return Response(PermissionsOutput(current).data, headers=headers)


class PermissionsUpdatedSinceApi(ApiView):
    """Current documents of every customer whose permissions changed since a time, keyset-paginated."""

    required_scopes = READ

    class UpdatedSinceQuery(PageQuery):
        updated_since = serializers.DateTimeField(help_text="ISO 8601.")
        cursor = serializers.CharField(
            required=False, max_length=200, help_text="`next_cursor` of the last page."
        )

    class PermissionsPage(serializers.Serializer):
        results = PermissionsOutput(many=True)
        next_cursor = serializers.CharField(allow_null=True)
        has_more = serializers.BooleanField()

    @extend_schema(
        operation_id="permissions_updated_since",
        parameters=[UpdatedSinceQuery],
        responses={200: PermissionsPage, **problems(400)},
    )
    def get(self, request):
        query = self.UpdatedSinceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = selectors.permissions_updated_since(
            since=query.validated_data["updated_since"],
            cursor=query.validated_data.get("cursor"),
            limit=query.validated_data["limit"],
        )
        return Response(
            self.PermissionsPage(
                {"results": page.items, "next_cursor": page.next_cursor, "has_more": page.has_more}
            ).data
        )


class PermissionChangesApi(ApiView):
    """The change feed: every permission-document version after the cursor, each once, in a fixed order.

    Store `next_cursor` after processing a page and pass it as `after` next time. An empty page is normal:
    poll again later with the same cursor.
    """

    required_scopes = READ

    class ChangesQuery(PageQuery):
        after = serializers.CharField(
            required=False, max_length=200, help_text="`next_cursor` of the last page."
        )

    class ChangesPage(serializers.Serializer):
        changes = PermissionsOutput(many=True)
        next_cursor = serializers.CharField()
        has_more = serializers.BooleanField()

    @extend_schema(
        operation_id="permission_changes",
        parameters=[ChangesQuery],
        responses={200: ChangesPage, **problems(400)},
    )
    def get(self, request):
        query = self.ChangesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = selectors.permission_changes(
            after=query.validated_data.get("after"), limit=query.validated_data["limit"]
        )
        return Response(
            self.ChangesPage(
                {"changes": page.items, "next_cursor": page.next_cursor, "has_more": page.has_more}
            ).data
        )


class PermissionExportApi(ApiView):
    """Every customer's current permission document, one JSON object per line (NDJSON), streamed."""

    required_scopes = READ

    @extend_schema(
        operation_id="permissions_export",
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One line per customer: external_id, version, updated_at, permissions.",
            ),
            **problems(),
        },
    )
    def get(self, request):
        response = StreamingHttpResponse(
            selectors.permission_export_chunks(), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="permissions.ndjson"'
        return response
