"""Security headers on every response: a Content-Security-Policy with no inline script anywhere, and a
Permissions-Policy that turns off browser features the app never uses.

X-Frame-Options, nosniff, Referrer-Policy and HSTS (over HTTPS in production) come from Django's own
middleware and settings. The browser app is built by Vite into external modules, the Django admin uses only
external scripts, and the API docs use drf-spectacular's split view (its script is a separate URL), so
`script-src 'self'` holds everywhere. Swagger UI injects `<style>` elements, so its page alone may use inline
styles (never scripts).
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Pages that need inline <style> elements (never inline script): Swagger UI.
INLINE_STYLE_PREFIXES = ("/api/docs/",)

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()"
)


def content_security_policy(path: str) -> str:
    policy = dict(CSP)
    if path.startswith(INLINE_STYLE_PREFIXES):
        policy["style-src"] = "'self' 'unsafe-inline'"
    if getattr(settings, "CSP_REPORT_URI", ""):
        policy["report-uri"] = settings.CSP_REPORT_URI
    return "; ".join(f"{name} {value}" for name, value in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", content_security_policy(request.path))
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals as the API's JSON errors (Django's default is an HTML page)."""
    return JsonResponse(
        {
            "detail": f"CSRF Failed: {reason or 'token missing or incorrect'}. Get a token from /api/auth/csrf "
            "and send it in the X-CSRFToken header.",
            "code": "csrf_failed",
            "errors": [],
        },
        status=403,
    )
