"""Every error as ``application/problem+json`` (RFC 9457), with one entry per bad field."""

from http import HTTPStatus

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from .services import IdempotencyConflict

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, IdempotencyConflict):
        exc = exceptions.APIException("This Idempotency-Key was already used for a different request.")
        exc.status_code = 422
    response = exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if isinstance(exc, exceptions.ValidationError):
        body["detail"] = "The request is not valid; nothing was written."
        body["errors"] = list(field_errors(exc.detail))
    else:
        body["detail"] = str(exc.detail) if hasattr(exc, "detail") else HTTPStatus(status).description
    headers = {
        name: value
        for name, value in response.items()
        if name in ("Retry-After", "WWW-Authenticate", "Allow")
    }
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def field_errors(detail, pointer=""):
    """Flatten DRF's nested error detail into ``{"pointer": "#/choices/0/purpose", "detail": "…"}`` items."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == api_settings.NON_FIELD_ERRORS_KEY else f"/{key}"
            yield from field_errors(value, pointer + name)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                yield from field_errors(item, f"{pointer}/{index}")
            else:
                yield {"pointer": f"#{pointer}", "detail": str(item)}
    else:
        yield {"pointer": f"#{pointer}", "detail": str(detail)}
