"""Whole-number query parameters (ids and cursors), read the same way by every view."""

from rest_framework.request import Request

from labeling.services.errors import FieldError, invalid


def query_id(request: Request, name: str, *, required: bool = False) -> int | None:
    """The parameter as a non-negative integer; None when absent (a named 400 when `required`), and a named 400
    for anything else. ASCII digits only: `str.isdigit` also accepts "²", which `int` then refuses."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise invalid("Invalid query", FieldError("is required", name))
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise invalid("Invalid query", FieldError("must be a positive integer", name))
    return int(raw)
