"""The request being served, so services can record who acted and from where without a `request` argument.

Set by `AuditContextMiddleware` for the life of one request (a context variable: safe under threads). Outside a
request (Celery tasks, management commands) there is none, and events carry no address.
"""

from collections.abc import Callable
from contextvars import ContextVar
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_current: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(proxy, strict=False) for proxy in proxies)


def _address(text: str) -> IPv4Address | IPv6Address | None:
    """An X-Forwarded-For entry as an address (a port some proxies add is dropped), or None if it is none."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":")[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, unless the request came from one of the operator's TRUSTED_PROXIES.
    Then X-Forwarded-For is read from the right (each proxy appends the address it saw) and the first address
    that is not a trusted proxy is the client's; whatever lies left of it the client may have made up."""
    peer = _address(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not any(peer in net for net in networks):
        return str(peer)
    hop = peer
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        if not entry.strip():
            continue
        address = _address(entry)
        if address is None:
            break  # not written by a trusted proxy: the last trusted hop is as far as we can see
        hop = address
        if not any(address in net for net in networks):
            break
    return str(hop)


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
