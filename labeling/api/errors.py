"""Turns service errors into API responses: `{"detail", "code", "errors": [{"message", "field", "line"}]}`.

A lost database connection (server restarted, backend terminated, failover) becomes 503 with `Retry-After`:
each service is one transaction, so nothing half-written was kept, and a submission sent again with the same
`client_id` is stored exactly once (or returns the stored one if the first attempt did commit).
"""

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.api.parsers import body_too_large
from labeling.services.errors import FieldError, ServiceError

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 1


def _body(exc: ServiceError) -> dict:
    body = {"detail": exc.message, "code": exc.code}
    if exc.errors:
        body["errors"] = [error.as_dict() for error in exc.errors]
    return body


def _flatten(detail, field: str | None = None) -> list[FieldError]:
    """DRF's nested validation detail as the API's flat list, each error naming its field's path."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = None if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
            out += _flatten(value, f"{field}.{name}" if field and name else (name or field))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [FieldError(str(item), field) for item in detail]
        out = []
        for i, item in enumerate(detail):
            if item:  # DRF puts {} for the valid items of a list
                out += _flatten(item, f"{field}[{i}]" if field else f"[{i}]")
        return out
    return [FieldError(str(detail), field)]


def _invalid(exc: ValidationError) -> ServiceError:
    errors = _flatten(exc.detail)
    first = errors[0] if errors else FieldError("invalid", None)
    summary = f"{first.field}: {first.message}" if first.field else first.message
    return ServiceError(message=f"Invalid request ({summary})", code="invalid", errors=errors)


def exception_handler(exc, context):
    if isinstance(exc, ValidationError):  # serializers: the same shape as the services' errors
        exc = _invalid(exc)
    elif isinstance(exc, RequestDataTooBig):  # Django's request.body past DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = body_too_large()
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):  # Django's form limits
        exc = ServiceError(
            message="The form has more fields or files than this server accepts.", code="bad_request"
        )
    if isinstance(exc, ServiceError):
        return Response(_body(exc), status=exc.status)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).strip()[:300])
        body = {
            "detail": "The database connection was lost and nothing was stored. Retry the same request; a "
            "submission retried with the same client_id is stored exactly once.",
            "code": "database_unavailable",
        }
        return Response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return drf_exception_handler(exc, context)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 handler (a body over the limit read before a view runs, e.g. by a CSRF check of a form):
    the API's error shape under /api/, Django's page elsewhere."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        error = body_too_large()
    else:
        error = ServiceError(message="The request was refused as malformed.", code="bad_request")
    return JsonResponse(_body(error), status=error.status)
