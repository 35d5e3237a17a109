"""Turns service errors into API responses: `{"detail", "code", "errors": [{"message", "field", "line"}]}`.

A lost database connection (server restarted, backend terminated, failover) becomes 503 with `Retry-After`:
each service is one transaction, so nothing half-written was kept, and a submission sent again with the same
`client_id` is stored exactly once (or returns the stored one if the first attempt did commit).
"""

import logging

from django.db import InterfaceError, OperationalError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from labeling.services.errors import ServiceError

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 1


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.errors:
            body["errors"] = [error.as_dict() for error in exc.errors]
        return Response(body, status=exc.status)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).strip()[:300])
        body = {
            "detail": "The database connection was lost and nothing was stored. Retry the same request; a "
            "submission retried with the same client_id is stored exactly once.",
            "code": "database_unavailable",
        }
        return Response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return drf_exception_handler(exc, context)
