"""Many customers' consent in one request, each line recorded and answered on its own."""

import json
from http import HTTPStatus

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from .. import services
from ..exceptions import field_errors
from ..selectors import customer_by_external_id
from .common import ApiView, ProblemSerializer, StrictCharField, problems
from .customers import CustomerConsentsApi

MAX_LINES = 1000


class NdjsonParser(BaseParser):
    """One JSON object per line (``application/x-ndjson``), read as the list of lines."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):
        lines = []
        for number, line in enumerate(stream.read().decode("utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise exceptions.ParseError(f"Line {number} is not JSON: {error.msg}.") from error
        return {"lines": lines}


class LineInput(CustomerConsentsApi.RecordInput):
    id = StrictCharField(
        max_length=200,
        help_text="Your id for the line: a line sent again with the same id records nothing new.",
    )
    external_id = StrictCharField(max_length=100, help_text="The customer, by the brand's own id.")


class BatchInput(serializers.Serializer):
    lines = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=MAX_LINES)


class LineResult(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["applied", "history_only", "rejected"])
    result = CustomerConsentsApi.RecordOutput(
        required=False, help_text="What was recorded (not when rejected)."
    )
    problem = ProblemSerializer(required=False, help_text="Why the line was rejected (RFC 9457).")


class BatchOutput(serializers.Serializer):
    results = LineResult(many=True)


class BatchConsentsApi(ApiView):
    """Consent captured elsewhere for up to 1,000 customers, as JSON (``{"lines": [...]}``) or NDJSON."""

    required_scopes = {"POST": "consents:write"}
    parser_classes = [JSONParser, NdjsonParser]

    @extend_schema(
        operation_id="consent_record_batch",
        description="Each line is what `POST customers/{external_id}/consents` takes, plus the customer's "
        "`external_id` and your `id` for the line. Lines are recorded one by one through the write path and "
        "answered in order: `applied`, `history_only` (recorded, but a later choice for the purpose stands), or "
        "`rejected` with problem details (a bad line writes nothing and does not stop the others). A line sent "
        "again with the same `id` records nothing new and gets its first answer.",
        request={"application/json": BatchInput, "application/x-ndjson": LineInput},
        responses={200: OpenApiResponse(BatchOutput), **problems(400)},
    )
    def post(self, request):
        batch = BatchInput(data=request.data)
        batch.is_valid(raise_exception=True)
        return Response(
            {"results": [self._line(request.auth, line) for line in batch.validated_data["lines"]]}
        )

    @staticmethod
    def _line(client, line) -> dict:
        line_id = line.get("id") if isinstance(line, dict) and isinstance(line.get("id"), str) else None
        data = LineInput(data=line)
        if not data.is_valid():
            return _rejected(line_id, 400, data.errors)
        fields = dict(data.validated_data)
        line_id, external_id = fields.pop("id"), fields.pop("external_id")
        customer = customer_by_external_id(external_id)
        if customer is None:
            return _rejected(line_id, 404, {"external_id": ["No customer with this external id."]})
        try:
            answer = services.consent_record(
                client=client,
                customer=customer,
                idempotency_key=f"batch:{line_id}",
                fingerprint=services.request_fingerprint(customer.pk, fields),
                **fields,
            )
        except DjangoValidationError as error:
            return _rejected(line_id, 400, as_serializer_error(error))
        except services.IdempotencyConflict:
            return _rejected(line_id, 422, None, "This line id was already used for a different line.")
        body = answer.body
        history_only = body["events"] and len(body["history_only"]) == len(body["events"])
        return {"id": line_id, "status": "history_only" if history_only else "applied", "result": body}


def _rejected(
    line_id, status: int, errors, detail: str = "The line is not valid; nothing was written for it."
):
    problem = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if errors:
        problem["errors"] = list(field_errors(errors))
    return {"id": line_id, "status": "rejected", "problem": problem}
