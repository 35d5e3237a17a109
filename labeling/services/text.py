"""The rules every piece of JSON and text from outside must pass, in API bodies and import files alike.

PostgreSQL stores neither NUL (U+0000) nor a lone UTF-16 surrogate (U+D800 to U+DFFF, which Python's json
decodes from `"\\ud800"`): either would fail the write with a 500, so they are refused up front with the JSON
path of the string. Nesting is limited, and measured without recursion, so no later code can hit Python's
recursion limit. NaN and infinite numbers are not JSON, and jsonb refuses them too.
"""

import json
import re
from typing import Any, NamedTuple

MAX_BODY_DEPTH = 32  # API bodies: the deepest real one (a draft) is a handful of levels
MAX_FILE_DEPTH = 128  # import lines: an oasst1 message tree takes two levels per turn
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
_MAX_KEY_IN_PATH = 60
_MAX_PATH = 200


class BadText(NamedTuple):
    path: str  # e.g. "payload.notes", "messages[2].content"; "" for the value itself
    reason: str
    code: str  # "invalid_text" or "too_deep"


class JSONRejected(ValueError):
    """Why a JSON document was refused: `code` is invalid_json, too_deep or invalid_text; `path` names the
    value at fault ("" when it is the document itself)."""

    def __init__(self, message: str, code: str = "invalid_json", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored, or None."""
    found = _BAD_CHAR.search(text)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return f"contains a lone surrogate (U+{ord(char):04X}), which is not valid Unicode text"


def _path(trail: tuple | None) -> str:
    parts: list[str] = []
    while trail is not None:
        trail, key = trail
        if isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            key = key if len(key) <= _MAX_KEY_IN_PATH else key[:_MAX_KEY_IN_PATH] + "…"
            parts.append(f".{key}")
    path = "".join(reversed(parts)).removeprefix(".")
    return path if len(path) <= _MAX_PATH else path[:_MAX_PATH] + "…"


def find_bad_text(value: Any, *, max_depth: int | None = None) -> BadText | None:
    """The first string (value or key) that cannot be stored, or the first container nested deeper than
    `max_depth` (the outermost container is level 1), with its JSON path; None when all is well.

    Iterative on purpose: a value nested far past Python's recursion limit is walked like any other."""
    # Each entry: (value, depth of the container holding it, trail); a trail is (parent trail, key) or None.
    stack: list[tuple[Any, int, tuple | None]] = [(value, 0, None)]
    while stack:
        item, depth, trail = stack.pop()
        if isinstance(item, str):
            reason = text_problem(item)
            if reason is not None:
                return BadText(_path(trail), reason, "invalid_text")
            continue
        if not isinstance(item, dict | list):
            continue
        depth += 1
        if max_depth is not None and depth > max_depth:
            return BadText(_path(trail), f"is nested more than {max_depth} levels deep", "too_deep")
        if isinstance(item, dict):
            children = []
            for key, child in item.items():
                key_text = key if isinstance(key, str) else str(key)
                reason = text_problem(key_text)
                if reason is not None:
                    return BadText(_path(trail), f"a key {reason}", "invalid_text")
                children.append((child, depth, (trail, key_text)))
            stack.extend(reversed(children))  # so the first bad string found is the first in the document
        else:
            stack.extend((item[i], depth, (trail, i)) for i in range(len(item) - 1, -1, -1))
    return None


def _refuse_constant(name: str) -> float:
    raise JSONRejected(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if number in (float("inf"), float("-inf")):
        raise JSONRejected(f"the number {literal[:40]} is too large")
    return number


def strict_loads(text: str | bytes, *, max_depth: int) -> Any:
    """`json.loads` held to the rules above: refuses NaN, Infinity, numbers that overflow, nesting past
    `max_depth` and strings that cannot be stored, raising `JSONRejected`."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except JSONRejected:
        raise
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if exc.lineno == 1 else f"line {exc.lineno} column {exc.colno}"
        raise JSONRejected(f"{exc.msg} at {where}") from None
    except RecursionError:
        raise JSONRejected(f"is nested more than {max_depth} levels deep", "too_deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits, or bytes that are not UTF-8
        raise JSONRejected(str(exc)[:200]) from None
    bad = find_bad_text(value, max_depth=max_depth)
    if bad is not None:
        raise JSONRejected(bad.reason, bad.code, bad.path)
    return value
