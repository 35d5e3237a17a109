"""Reading JSON Lines uploads: one object per line, every bad line reported by number."""

import json
from collections.abc import Iterator
from typing import Any, Protocol


class LineErrorSink(Protocol):
    def add(self, line: int, message: str, field_name: str | None = None) -> None: ...


def json_lines(text: str, errors: LineErrorSink) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object goes to `errors`."""
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.add(number, f"is not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            errors.add(number, "must be a JSON object")
            continue
        yield number, obj
