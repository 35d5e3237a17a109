"""Real processes for fault tests: gunicorn serving the test database, Celery workers, a private Redis.

Each runs against the database of the current test run (committed data only: use
`django_db(transaction=True)`), with the test settings and the run's Celery key prefix.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

from annotate.serving import gunicorn_command

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(**extra: str) -> dict[str, str]:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "annotate.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ANNOTATE_MODEL_ROOTS": json.dumps(settings.ANNOTATE_MODEL_ROOTS),
        "ANNOTATE_CACHE_DIR": str(settings.ANNOTATE_CACHE_DIR),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start_worker(
    queue: str, env: dict[str, str], log: Path, prefix: tuple[str, ...] = ()
) -> subprocess.Popen:
    """A Celery worker in one process (`solo` pool), so SIGKILL kills the task with it. `prefix` runs it through
    another command first (`ip netns exec NAME`: a worker on a host of its own)."""
    return subprocess.Popen(
        [
            *prefix,
            sys.executable,
            "-m",
            "celery",
            "-A",
            "annotate",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "-l",
            "WARNING",
            "-n",
            f"{queue}-{time.monotonic_ns()}@%h",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_gunicorn(env: dict[str, str], workers: int = 2, threads: int = 4) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        gunicorn_command(port, workers=workers, threads=threads),
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(url), 60, "gunicorn did not start")
    return server, url


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until(predicate, seconds: float, message: str, every: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{message} within {seconds} s")


class PrivateRedis:
    """A Redis server of the test's own on a free port, with no persistence: stopping it loses its data."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="annotate-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.folder,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._answers, 20, "private redis did not start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGKILL)
            self.process = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
