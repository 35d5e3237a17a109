"""Request context: an id per request (echoed as `X-Request-ID`), one structured log line, latency metrics."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from annotate import metrics
from annotate.logging import request_id_var, user_id_var

logger = logging.getLogger("annotate.request")

# An incoming id is kept only if it is short and plain, so it cannot forge log fields or bloat lines.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_PATHS = ("/healthz", "/readyz", "/metrics")


def _route(request: HttpRequest) -> str:
    """The URL pattern, not the path, so metric labels stay few (`api/projects/<int:project_id>/...`)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.route or match.view_name or "unmatched"


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        start = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - start
            route = _route(request)
            metrics.observe_request(route, request.method or "", status, elapsed)
            if request.path not in QUIET_PATHS or status >= 500:
                self._log(request, route, status, elapsed)
            request_id_var.reset(id_token)
            user_id_var.reset(user_token)

    @staticmethod
    def _log(request: HttpRequest, route: str, status: int, elapsed: float) -> None:
        # Only a user already loaded counts: the log line must not cost a session lookup of its own.
        user = getattr(request, "user", None)
        if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
            user = None
        if user is not None and getattr(user, "is_authenticated", False):
            user_id_var.set(user.pk)
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "path": request.path,
                "method": request.method,
                "status": status,
                "route": route,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
