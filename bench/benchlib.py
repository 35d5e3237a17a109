"""Shared by the HTTP benchmarks: seeding a ranking project on PostgreSQL, starting gunicorn, percentiles."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[index]


def require_postgres() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit(
            "Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/test"
        )


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotate.settings")
    import django

    django.setup()


def seed(labelers: int, tasks: int, redundancy: int, admins: int = 0) -> tuple[int, list[str], list[str]]:
    """A fresh project with `tasks` ranking tasks (K=4), its labelers' and admins' API tokens (scoped to it)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labeling.services.imports import import_file
    from labeling.services.projects import membership_set, project_create
    from labeling.services.tokens import api_token_create
    from labeling.tests.factories import ranking_items

    def make_user(username: str, **extra):  # no password: benchmark users authenticate with API tokens
        return get_user_model().objects.create(username=username, **extra)

    call_command("migrate", "--noinput", verbosity=0)
    run = uuid.uuid4().hex[:8]
    owner = make_user(f"bench-admin-{run}", is_staff=True)
    project = project_create(creator=owner, name=f"bench {run}", k_answers=4, redundancy=redundancy)
    import_file(project=project, user=owner, data=ranking_items(tasks, 4, prefix=run), kind="ranking_items")
    tokens = []
    for i in range(labelers):
        user = make_user(f"bench-{run}-{i}")
        membership_set(project=project, user=user, role="labeler")
        tokens.append(api_token_create(user=user, name="bench", project=project)[1])
    admin_tokens = []
    for i in range(admins):
        user = make_user(f"bench-{run}-admin-{i}")
        membership_set(project=project, user=user, role="admin")
        admin_tokens.append(api_token_create(user=user, name="bench", project=project)[1])
    return project.pk, tokens, admin_tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    port: int, workers: int, threads: int, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """gunicorn (gthread workers) on the database of DATABASE_URL; returns once /healthz answers."""
    from annotate.serving import gunicorn_command

    server = subprocess.Popen(
        gunicorn_command(port, workers=workers, threads=threads),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    for _ in range(150):
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")
