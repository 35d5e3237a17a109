"""Sampling answers from an OpenAI-compatible server (vLLM, llama.cpp server, TGI, OpenAI itself).

Standard library only. Requests run in a thread pool with bounded concurrency; 429, 5xx, timeouts and
refused connections are retried with exponential back-off (honouring ``Retry-After``); an endpoint that stays
down raises :class:`EndpointUnavailable` naming its URL. Other 4xx answers are not retried.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .chat import PLAIN_ROLE_HEADERS, Message
from .generate import Backend, SamplingSettings

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0


class EndpointError(RuntimeError):
    """The endpoint answered, but refused the request (a 4xx other than 429, or a malformed body)."""


class EndpointUnavailable(EndpointError):
    """The endpoint could not be reached, or kept failing, after every retry."""


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str  # e.g. http://127.0.0.1:8001/v1
    model: str
    api: str = "chat"  # "chat" (/chat/completions) or "completions" (/completions)
    api_key: str = ""
    concurrency: int = 4
    max_retries: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 120.0

    @property
    def url(self) -> str:
        path = "chat/completions" if self.api == "chat" else "completions"
        return f"{self.base_url.rstrip('/')}/{path}"


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
                with urllib.request.urlopen(request, timeout=cfg.timeout_s) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:300]
                if e.code not in RETRY_STATUS:
                    raise EndpointError(f"{cfg.url} refused the request: HTTP {e.code}: {detail}") from e
                last = f"HTTP {e.code}: {detail}"
                retry_after = e.headers.get("Retry-After") if e.headers else None
                if retry_after and retry_after.strip().isdigit():
                    wait = min(float(retry_after), MAX_RETRY_AFTER_S)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                last = str(getattr(e, "reason", e))
            except json.JSONDecodeError as e:
                raise EndpointError(f"{cfg.url} answered with something that is not JSON: {e}") from e
            if attempt < cfg.max_retries:
                time.sleep(wait)
        raise EndpointUnavailable(
            f"OpenAI-compatible endpoint {cfg.url} is unavailable after {cfg.max_retries + 1} attempts: {last}"
        )

    def complete(
        self, messages: Sequence[Message], n: int, settings: SamplingSettings, seed: int | None = None
    ) -> list[str]:
        """``n`` answers to one conversation (a server may return fewer choices; the caller asks again)."""
        answer = self._post(self._body(messages, n, settings, settings.seed if seed is None else seed))
        try:
            choices = answer["choices"]
            if self.config.api == "chat":
                return [c["message"]["content"] or "" for c in choices]
            return [c["text"] or "" for c in choices]
        except (KeyError, TypeError) as e:
            raise EndpointError(f"{self.config.url} answered without choices: {str(answer)[:300]}") from e

    def backend(self, prompts: Sequence[Sequence[Message]], settings: SamplingSettings) -> Backend:
        """A :func:`~rewardtrain.training.generate.collect_distinct` backend: one request per prompt, at most
        ``concurrency`` at a time."""

        def run(indices: list[int], counts: list[int], round_no: int) -> list[list[str]]:
            seeds = [settings.seed + 1_000_003 * round_no + i for i in indices]
            with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
                futures = [
                    pool.submit(self.complete, prompts[i], n, settings, s)
                    for i, n, s in zip(indices, counts, seeds, strict=True)
                ]
                return [f.result() for f in futures]

        return run
