"""Sampling answers from an OpenAI-compatible server (vLLM, llama.cpp server, TGI, OpenAI itself).

Standard library only. Requests run in a thread pool with bounded concurrency; 429, 5xx, timeouts and
refused connections are retried with exponential back-off (honouring ``Retry-After``); an endpoint that stays
down raises :class:`EndpointUnavailable`. Other 4xx answers are not retried.

The key goes only to the configured base URL: no redirect is followed (a 3xx is an error naming its status), and
an error says in one line what went wrong (the HTTP status and at most the first line of the server's
``error.message``, cut short), never the server's whole reply: its text reaches the people who run jobs.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .chat import PLAIN_ROLE_HEADERS, Message
from .generate import Backend, Drawn, SamplingSettings

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0
REASON_MAX_CHARS = 100
ERROR_BODY_MAX_BYTES = 64 * 1024


class EndpointError(RuntimeError):
    """The endpoint answered, but refused the request (a 3xx or a 4xx other than 429, or a malformed body).

    Its text is one short line (``HTTP 400: <reason>``); ``status`` is the HTTP status, if there was one."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class EndpointUnavailable(EndpointError):
    """The endpoint could not be reached, or kept failing, after every retry."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError: reported, never followed


_OPENER = urllib.request.build_opener(_NoRedirect)


def _reason(body: bytes) -> str:
    """The first line of a JSON error body's ``error.message`` (or ``message``/``detail``), cut short; else ""."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    message = data.get("error")
    if isinstance(message, dict):
        message = message.get("message")
    if message is None:
        message = data.get("message", data.get("detail"))
    if not isinstance(message, str):
        return ""
    line = next((x.strip() for x in message.splitlines() if x.strip()), "")
    line = "".join(c if c.isprintable() else " " for c in line)
    return line if len(line) <= REASON_MAX_CHARS else line[: REASON_MAX_CHARS - 1] + "…"


def _error_body(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(ERROR_BODY_MAX_BYTES) if error.fp else b""
    except (OSError, http.client.HTTPException):
        return b""


def _http_error(code: int, body: bytes) -> str:
    if 300 <= code < 400:
        return f"HTTP {code}: the endpoint redirected; redirects are not followed"
    reason = _reason(body)
    return f"HTTP {code}: {reason}" if reason else f"HTTP {code}"


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str  # e.g. http://127.0.0.1:8001/v1
    model: str
    api: str = "chat"  # "chat" (/chat/completions) or "completions" (/completions)
    api_key: str = ""
    concurrency: int = 4
    max_retries: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 30.0

    @property
    def url(self) -> str:
        path = "chat/completions" if self.api == "chat" else "completions"
        return f"{self.base_url.rstrip('/')}/{path}"


def _os_reason(error: object) -> str:
    """A connection failure in a few words (the OS's own text, without paths or addresses)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__ if isinstance(error, BaseException) else str(error)[:REASON_MAX_CHARS]


def plain_prompt(messages: Sequence[Message]) -> str:
    """The conversation as plain text for a /completions endpoint (the ``### Role:`` template)."""
    parts = [
        PLAIN_ROLE_HEADERS.get(m["role"], f"### {m['role'].capitalize()}:\n") + m["content"] for m in messages
    ]
    return "\n\n".join(parts) + "\n\n" + PLAIN_ROLE_HEADERS["assistant"]


class OpenAIClient:
    def __init__(self, config: EndpointConfig) -> None:
        if config.api not in ("chat", "completions"):
            raise ValueError(f"api must be 'chat' or 'completions', not {config.api!r}")
        parsed = urlparse(config.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("base_url must be an http(s) URL")
        self.config = config

    def _body(self, messages: Sequence[Message], n: int, settings: SamplingSettings, seed: int) -> dict:
        body: dict[str, Any] = {
            "model": self.config.model,
            "n": n,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_new_tokens,
            "seed": seed,
        }
        if self.config.api == "chat":
            body["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages]
        else:
            body["prompt"] = plain_prompt(messages)
        return body

    def _post(self, body: dict) -> dict:
        """POST with retries; returns the decoded JSON answer."""
        cfg = self.config
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if cfg.api_key:
            headers["Authorization"] = f"Bearer {cfg.api_key}"
        data = json.dumps(body).encode()
        last = ""
        for attempt in range(cfg.max_retries + 1):
            wait = cfg.backoff_s * (2**attempt) * (1 + 0.25 * random.random())
            request = urllib.request.Request(cfg.url, data=data, headers=headers, method="POST")
            try:
                with _OPENER.open(request, timeout=cfg.timeout_s) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                last = _http_error(e.code, _error_body(e))
                if e.code not in RETRY_STATUS:
                    raise EndpointError(last, status=e.code) from None
                retry_after = e.headers.get("Retry-After") if e.headers else None
                if retry_after and retry_after.strip().isdigit():
                    wait = min(float(retry_after), MAX_RETRY_AFTER_S)
            except TimeoutError:
                last = f"no answer within {cfg.timeout_s:g} s"
            except urllib.error.URLError as e:
                reason = e.reason
                last = "no answer in time" if isinstance(reason, TimeoutError) else _os_reason(reason)
            except (OSError, http.client.HTTPException) as e:
                last = _os_reason(e)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise EndpointError("the answer is not JSON") from None
            if attempt < cfg.max_retries:
                time.sleep(wait)
        raise EndpointUnavailable(f"unavailable after {cfg.max_retries + 1} attempts: {last}")

    def complete(
        self, messages: Sequence[Message], n: int, settings: SamplingSettings, seed: int | None = None
    ) -> list[str]:
        """``n`` answers to one conversation, as texts (see :meth:`complete_drawn`)."""
        return [d.text for d in self.complete_drawn(messages, n, settings, seed)]

    def complete_drawn(
        self, messages: Sequence[Message], n: int, settings: SamplingSettings, seed: int | None = None
    ) -> list[Drawn]:
        """``n`` answers to one conversation (a server may return fewer choices; the caller asks again); a choice
        whose ``finish_reason`` is ``"length"`` was cut at ``max_tokens``."""
        answer = self._post(self._body(messages, n, settings, settings.seed if seed is None else seed))
        try:
            choices = answer["choices"]
            if self.config.api == "chat":
                texts = [c["message"]["content"] or "" for c in choices]
            else:
                texts = [c["text"] or "" for c in choices]
            return [
                Drawn(t, isinstance(c, dict) and c.get("finish_reason") == "length")
                for t, c in zip(texts, choices, strict=True)
            ]
        except (KeyError, TypeError):
            raise EndpointError("the answer has no choices") from None

    def backend(self, prompts: Sequence[Sequence[Message]], settings: SamplingSettings) -> Backend:
        """A :func:`~rewardtrain.training.generate.collect_distinct` backend: one request per prompt, at most
        ``concurrency`` at a time."""

        def run(indices: list[int], counts: list[int], round_no: int) -> list[list[Drawn | str]]:
            seeds = [settings.seed + 1_000_003 * round_no + i for i in indices]
            with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
                futures = [
                    pool.submit(self.complete_drawn, prompts[i], n, settings, s)
                    for i, n, s in zip(indices, counts, seeds, strict=True)
                ]
                return [f.result() for f in futures]

        return run
