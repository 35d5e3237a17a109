"""Reading JSON Lines uploads: one object per line, every bad line reported by number."""

import re
from collections.abc import Iterator
from typing import Any, Protocol

from labeling.services.text import MAX_FILE_DEPTH, JSONRejected, strict_loads

_LINE_END = re.compile(r"\r\n?|\n")


class LineErrorSink(Protocol):
    def add(self, line: int, message: str, field_name: str | None = None) -> None: ...


def json_lines(text: str, errors: LineErrorSink) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object, or that breaks the
    rules of labeling/services/text.py (NUL, lone surrogates, NaN, deep nesting), goes to `errors`.

    Lines end at \\n, \\r\\n or \\r (none can stand raw inside a JSON string): `str.splitlines` would also split at
    U+2028, U+0085 and other separators that are legal, unescaped, inside JSON strings."""
    for number, raw in enumerate(_LINE_END.split(text), start=1):
        if not raw.strip():
            continue
        try:
            obj = strict_loads(raw, max_depth=MAX_FILE_DEPTH)
        except JSONRejected as exc:
            if exc.code == "invalid_json":
                errors.add(number, f"is not valid JSON: {exc.message}")
            else:
                errors.add(number, exc.message, exc.path or None)
            continue
        if not isinstance(obj, dict):
            errors.add(number, "must be a JSON object")
            continue
        yield number, obj
