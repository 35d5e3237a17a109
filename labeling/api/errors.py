"""Turns service errors into API responses: `{"detail", "code", "errors": [{"message", "field", "line"}]}`."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.services.errors import ServiceError


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.errors:
            body["errors"] = [error.as_dict() for error in exc.errors]
        return Response(body, status=exc.status)
    return drf_exception_handler(exc, context)
