"""A small OpenAI-compatible HTTP server for the tests: /v1/chat/completions and /v1/completions.

It answers `n` distinct choices per request, can fail the first requests with a given status (and error body),
can redirect every request elsewhere, can hold each request for a while (to measure concurrency), and records
what it was sent: every request of any method, with all its headers and its raw body.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    fail_first: int = 0  # this many requests get `fail_status`
    fail_status: int = 503
    fail_message: str = "overloaded"  # the `error.message` of a failing answer
    redirect_to: str = ""  # when set, every request is answered 302 with Location: redirect_to + path
    delay_s: float = 0.0
    empty_every: int = 0  # every n-th choice is empty (0: never)
    length_every: int = 0  # every n-th choice ends with finish_reason "length" (cut at max_tokens; 0: never)
    requests: list[dict] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)  # each request's method, path, headers and body, as text
    statuses: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record_raw(self, data: bytes) -> None:
            head = f"{self.command} {self.path}\n{self.headers}"
            with script.lock:
                script.raw.append(head + data.decode("utf-8", "replace"))

        def do_GET(self) -> None:
            self._record_raw(b"")
            with script.lock:
                script.requests.append({"path": self.path, "method": "GET", "body": None, "auth": None})
            self._reply(405, {"error": {"message": "POST only"}})

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._record_raw(data)
            if script.redirect_to:
                with script.lock:
                    script.requests.append({"path": self.path, "method": "POST", "body": None, "auth": None})
                self.send_response(302)
                self.send_header("Location", script.redirect_to.rstrip("/") + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                script.statuses.append(302)
                return
            body = json.loads(data)
            with script.lock:
                script.requests.append(
                    {
                        "path": self.path,
                        "method": "POST",
                        "body": body,
                        "auth": self.headers.get("Authorization"),
                    }
                )
                failing = len(script.requests) <= script.fail_first
                script.in_flight += 1
                script.max_in_flight = max(script.max_in_flight, script.in_flight)
            try:
                time.sleep(script.delay_s)
                status, answer = self._answer(body, failing)
            finally:
                # Counted out before replying: the client may send its next request as soon as it has the reply.
                with script.lock:
                    script.in_flight -= 1
            script.statuses.append(status)
            self._reply(status, answer)

        def _answer(self, body: dict, failing: bool) -> tuple[int, dict]:
            if failing:
                return script.fail_status, {"error": {"message": script.fail_message}}
            if self.path not in ("/v1/chat/completions", "/v1/completions"):
                return 404, {"error": {"message": f"no route {self.path}"}}
            choices = []
            for i in range(body.get("n", 1)):
                number = next(script.counter)
                text = "" if script.empty_every and number % script.empty_every == 0 else f"answer {number}"
                cut = bool(script.length_every) and number % script.length_every == 0
                finish = "length" if cut else "stop"
                if self.path.endswith("chat/completions"):
                    choices.append(
                        {
                            "index": i,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": finish,
                        }
                    )
                else:
                    choices.append({"index": i, "text": text, "finish_reason": finish})
            return 200, {"object": "chat.completion", "model": body["model"], "choices": choices}

    return Handler


@contextmanager
def openai_server(script: Script | None = None) -> Iterator[tuple[str, Script]]:
    """Serve on a free local port; yields the base URL (ending in /v1) and the script."""
    script = script or Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


def dead_url() -> str:
    """A local URL nothing listens on (a port bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
