"""The API's one JSON parser: DRF's, held to labeling/services/text.py's rules (depth, NaN, NUL, lone
surrogates) and to the request size limit, so a hostile body gets a named 400 (or 413), never a 500."""

from django.conf import settings
from rest_framework.parsers import JSONParser

from labeling.services.errors import FieldError, ServiceError, invalid, size_text
from labeling.services.text import MAX_BODY_DEPTH, JSONRejected, strict_loads

_DETAIL = {
    "invalid_json": "The body is not valid JSON",
    "too_deep": f"The body is nested more than {MAX_BODY_DEPTH} levels deep",
    "invalid_text": "The body holds text that cannot be stored",
}


def body_too_large() -> ServiceError:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return ServiceError(
        message=f"The request body is larger than the limit of {size_text(limit)}.",
        status=413,
        code="too_large",
    )


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise body_too_large()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid(
                _DETAIL["invalid_json"],
                FieldError(f"invalid UTF-8 byte at position {exc.start}"),
                code="invalid_json",
            ) from None
        try:
            return strict_loads(text, max_depth=MAX_BODY_DEPTH)
        except JSONRejected as exc:
            raise invalid(
                _DETAIL[exc.code], FieldError(exc.message, exc.path or None), code=exc.code
            ) from None
