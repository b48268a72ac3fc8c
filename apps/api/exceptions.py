"""Every error as ``application/problem+json`` (RFC 9457), with one entry per bad field.

DRF's views answer through ``problem_exception_handler``; ``ProblemJsonMiddleware`` turns whatever else answers
an error under the API's prefix (Django's 404 for an unknown path, its 500 for an unhandled exception, its 400
for a bad Host) into a problem document too.
"""

from http import HTTPStatus

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from .services import IdempotencyConflict

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PATH_PREFIX = "/api/"
# Headers of an error answer a client needs (when to retry, how to authenticate, which methods there are).
KEPT_HEADERS = ("Retry-After", "WWW-Authenticate", "Allow")


def problem(status: int, detail: str | None = None) -> dict:
    phrase = HTTPStatus(status)
    return {
        "type": "about:blank",
        "title": phrase.phrase,
        "status": status,
        "detail": detail or phrase.description,
    }


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
    if isinstance(exc, exceptions.ValidationError):
        body = problem(status, "The request is not valid; nothing was written.")
        body["errors"] = list(field_errors(exc.detail))
    else:
        body = problem(status, str(exc.detail) if hasattr(exc, "detail") else None)
    headers = {name: value for name, value in response.items() if name in KEPT_HEADERS}
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


class ProblemJsonMiddleware:
    """First in MIDDLEWARE, so it sees every answer, those Django makes from an exception included (each inner
    layer turns one into its 404/500 response, logged as usual, before it gets here)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path_info.startswith(API_PATH_PREFIX)
            and response.get("Content-Type", "").partition(";")[0] != PROBLEM_CONTENT_TYPE
        ):
            answer = JsonResponse(
                problem(response.status_code), status=response.status_code, content_type=PROBLEM_CONTENT_TYPE
            )
            for name in KEPT_HEADERS:
                if name in response:
                    answer[name] = response[name]
            return answer
        return response


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
