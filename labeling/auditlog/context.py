"""The request being served, so services can record who acted and from where without a `request` argument.

Set by `AuditContextMiddleware` for the life of one request (a context variable: safe under threads). Outside a
request (Celery tasks, management commands) there is none, and events carry no address.
"""

from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_current: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind a proxy that sets X-Forwarded-For (ANNOTATE_TRUST_X_FORWARDED_FOR), the address the
    proxy saw, i.e. the last one in the header: earlier entries are whatever the client chose to send."""
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR") or None


def current_request() -> HttpRequest | None:
    return _current.get()


def current_ip() -> str | None:
    request = _current.get()
    return client_ip(request) if request is not None else None


def current_user():
    """The signed-in user of the current request (session or token; DRF sets it on the request), or None."""
    request = _current.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(request)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
