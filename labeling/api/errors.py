"""Turns every API error into one shape: `{"detail", "code", "errors": [{"message", "field", "line"}]}`.

Service errors, serializer validation and DRF's own refusals (authentication, permission, not found, parse,
throttle, method) all answer it; the OpenAPI schema declares it once as `Error` (`labeling.api.schema`).

A lost database connection (server restarted, backend terminated, failover) becomes 503 with `Retry-After`:
each service is one transaction, so nothing half-written was kept, and a submission sent again with the same
`client_id` is stored exactly once (or returns the stored one if the first attempt did commit).
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.api.parsers import body_too_large
from labeling.services.errors import FieldError, ServiceError

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 1


def error_body(detail: str, code: str, errors: list[FieldError] | None = None) -> dict:
    """The API's error shape; `errors` is always there (empty when the detail says it all)."""
    return {"detail": detail, "code": code, "errors": [error.as_dict() for error in errors or []]}


def error_response(detail: str, code: str, status: int, headers: dict | None = None, **extra) -> Response:
    """An error answered by a view itself rather than raised (`extra`: documented additions, e.g. retry_after)."""
    return Response({**error_body(detail, code), **extra}, status=status, headers=headers)


def _body(exc: ServiceError) -> dict:
    return error_body(exc.message, exc.code, exc.errors)


def _flatten(detail, field: str | None = None) -> list[FieldError]:
    """DRF's nested validation detail as the API's flat list, each error naming its field's path."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if isinstance(key, int):  # ListField keys its errors by item index: the same path as a list's
                out += _flatten(value, f"{field}[{key}]" if field else f"[{key}]")
                continue
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
        body = error_body(
            "The database connection was lost and nothing was stored. Retry the same request; a "
            "submission retried with the same client_id is stored exactly once.",
            "database_unavailable",
        )
        return Response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return _drf_error(exc, context)


def _drf_error(exc, context) -> Response | None:
    """DRF's refusals (401, 403, 404, 405, 406, 415, 429, parse errors) in the API's shape, with DRF's headers
    (WWW-Authenticate, Retry-After) and its rollback of the request's transaction."""
    if isinstance(exc, Http404):  # as DRF's handler converts them, so the code is DRF's
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response
    if isinstance(exc.detail, dict | list):
        errors = _flatten(exc.detail)
        detail = errors[0].message if errors else exc.default_detail
    else:
        errors, detail = [], str(exc.detail)
    code = exc.detail.code if hasattr(exc.detail, "code") else exc.default_code
    response.data = error_body(str(detail), str(code or exc.default_code), errors)
    return response


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


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler (no route matched): the API's error shape under /api/, Django's page elsewhere."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return JsonResponse(error_body("No such API route.", "not_found"), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: under /api/ the error shape, so a client reads every failure the same way."""
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    return JsonResponse(error_body("The server failed to answer this request.", "server_error"), status=500)
