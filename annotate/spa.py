"""Serve the browser app's index.html (built by Vite into frontend/dist) for `/` and the app's client routes."""

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse

_cache: dict[str, tuple[float, bytes]] = {}

NOT_BUILT = (
    "The browser app is not built. Run `make frontend` (npm ci && npm run build in frontend/), "
    "or use the API docs at /api/docs/."
)


def _index() -> bytes | None:
    path = Path(settings.FRONTEND_DIST) / "index.html"
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    cached = _cache.get("index")
    if cached is None or cached[0] != mtime:
        cached = (mtime, path.read_bytes())
        _cache["index"] = cached
    return cached[1]


def spa_index(request: HttpRequest, path: str = "") -> HttpResponse:
    body = _index()
    if body is None:
        return HttpResponse(NOT_BUILT, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
