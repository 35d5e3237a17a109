"""Inference endpoints are configured by the operator, never by a project admin.

`ANNOTATE_INFERENCE_ENDPOINTS` (JSON in the environment) or the JSON file named by
`ANNOTATE_INFERENCE_ENDPOINTS_FILE` maps a name to an OpenAI-compatible server:

    {"vllm": {"base_url": "http://10.0.0.5:8001/v1", "api": "chat", "api_key_env": "VLLM_API_KEY",
              "models": ["Qwen/Qwen2.5-7B-Instruct"], "timeout": 30}}

A generation job names an endpoint and one of its models; the worker resolves the name from its own settings,
calls only that base URL and reads only the variable named here for its key. The configuration is checked when
the app starts (`GenerationConfig.ready`): a bad entry is an `ImproperlyConfigured` naming the entry and field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

API_STYLES = ("chat", "completions")
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 600.0
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
FIELDS = {"base_url", "api", "api_key_env", "models", "timeout"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    base_url: str
    api: str
    models: tuple[str, ...]
    api_key_env: str = ""
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def default_model(self) -> str:
        return self.models[0]


def _entry(name: Any, spec: Any, source: str) -> Endpoint:
    def bad(field: str, why: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"{source}: endpoint {name!r}, field '{field}': {why}")

    if not isinstance(name, str) or not NAME.match(name):
        raise ImproperlyConfigured(
            f"{source}: endpoint name {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
        )
    if not isinstance(spec, dict):
        raise bad("(entry)", "must be an object with base_url, api, models")
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field; known: {', '.join(sorted(FIELDS))}")
    base_url = spec.get("base_url")
    parsed = urlparse(base_url) if isinstance(base_url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise bad("base_url", "must be an http(s) URL like http://host:8001/v1")
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise bad(
            "base_url", "must not carry credentials, a query or a fragment (the key goes in api_key_env)"
        )
    api = spec.get("api", "chat")
    if api not in API_STYLES:
        raise bad("api", f"must be one of {', '.join(API_STYLES)}")
    key_env = spec.get("api_key_env", "") or ""
    if not isinstance(key_env, str) or (key_env and not ENV_NAME.match(key_env)):
        raise bad("api_key_env", "must be the name of the worker's environment variable that holds the key")
    models = spec.get("models")
    if (
        not isinstance(models, list)
        or not models
        or not all(isinstance(m, str) and m.strip() and len(m) <= 300 for m in models)
    ):
        raise bad("models", "must be a non-empty list of model names (the first is the default)")
    timeout = spec.get("timeout", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise bad("timeout", f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}")
    return Endpoint(
        name=name,
        base_url=base_url.rstrip("/"),
        api=api,
        models=tuple(models),
        api_key_env=key_env,
        timeout=float(timeout),
    )


def parse_endpoints(raw: str | dict | None, source: str) -> dict[str, Endpoint]:
    """The endpoints described by `raw` (JSON text or an already decoded object), checked; `source` names where
    they came from in the error."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ImproperlyConfigured(f"{source} is not valid JSON: {e}") from None
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"{source} must be a JSON object: name -> endpoint")
    return {name: _entry(name, spec, source) for name, spec in sorted(raw.items())}


@lru_cache(maxsize=8)
def _from_file(path: str) -> dict[str, Endpoint]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ImproperlyConfigured(
            f"ANNOTATE_INFERENCE_ENDPOINTS_FILE {path!r} cannot be read: {e}"
        ) from None
    return parse_endpoints(text, f"ANNOTATE_INFERENCE_ENDPOINTS_FILE {path!r}")


def configured_endpoints() -> dict[str, Endpoint]:
    """Every endpoint the operator configured, by name (the file is read once per process)."""
    raw = getattr(settings, "ANNOTATE_INFERENCE_ENDPOINTS", "")
    path = getattr(settings, "ANNOTATE_INFERENCE_ENDPOINTS_FILE", "")
    if raw and path:
        raise ImproperlyConfigured(
            "Set ANNOTATE_INFERENCE_ENDPOINTS or ANNOTATE_INFERENCE_ENDPOINTS_FILE, not both"
        )
    if path:
        return _from_file(str(path))
    return parse_endpoints(raw, "ANNOTATE_INFERENCE_ENDPOINTS")


def endpoint_get(name: str) -> Endpoint | None:
    """The endpoint configured under `name`, or None."""
    return configured_endpoints().get(name)
