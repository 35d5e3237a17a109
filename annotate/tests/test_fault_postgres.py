"""PostgreSQL connections terminated while labelers submit, against gunicorn: each request stores its work or
fails with a retryable 503, and a retry with the same client id stores it exactly once."""

import threading
import time
import uuid

import pytest
import requests
from django.db import connection
from django.db.models import Count

from annotate.tests.live import process_env, start_gunicorn, stop
from labeling.models import Ranking
from labeling.services.tokens import api_token_create
from labeling.tests.factories import add_member, import_ranking_tasks, make_project

LABELERS = 12
SECONDS = 8
ALLOWED = {200, 201, 204, 503}


def _call(session: requests.Session, method: str, url: str, seen: list, **kwargs) -> requests.Response:
    """Send until the answer is final; a 503 must say to retry, and is retried as the client would."""
    for _ in range(40):
        response = session.request(method, url, timeout=30, **kwargs)
        seen.append(response.status_code)
        if response.status_code != 503:
            return response
        assert response.headers.get("Retry-After") and response.json()["code"] == "database_unavailable"
        time.sleep(0.05)
    raise AssertionError(f"{url} kept failing")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_terminated_backends_during_submissions_lose_nothing_and_store_nothing_twice():
    project = make_project(redundancy=1)
    import_ranking_tasks(project, 400)
    tokens = [
        api_token_create(user=add_member(project), name="fault", project=project)[1] for _ in range(LABELERS)
    ]
    server, url = start_gunicorn(process_env(), workers=2, threads=6)
    stored: dict[str, int] = {}  # client id -> assignment id, for every submit that got a final 2xx
    statuses: list[int] = []
    failures: list[str] = []
    deadline = time.monotonic() + SECONDS

    def labeler(token: str) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        try:
            while time.monotonic() < deadline:
                lease = _call(session, "POST", f"{url}/api/projects/{project.pk}/assignments/next/", statuses)
                if lease.status_code == 204:
                    return
                assert lease.status_code == 200, lease.text
                body = lease.json()
                client_id = str(uuid.uuid4())
                tiers = [[c["id"]] for c in body["task"]["candidates"]]
                payload = {"client_id": client_id, "tiers": tiers, "seconds_spent": 1}
                done = _call(
                    session, "POST", f"{url}/api/assignments/{body['id']}/submit/", statuses, json=payload
                )
                assert done.status_code in (200, 201), done.text
                assert done.json()["id"]
                stored[client_id] = body["id"]
        except Exception as exc:  # reported below with the others
            failures.append(repr(exc))

    killed = []

    def terminator() -> None:
        from django.db import connections

        conn = connections["default"]
        with conn.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                killed.append(cursor.fetchone()[0])
                time.sleep(0.15)
        conn.close()

    threads = [threading.Thread(target=labeler, args=(t,)) for t in tokens] + [
        threading.Thread(target=terminator)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 60)
    finally:
        stop(server)
    assert not failures, failures[:5]
    assert set(statuses) <= ALLOWED, sorted(set(statuses))
    assert sum(killed) > 0 and 503 in statuses  # the fault did happen, and was answered as retryable
    assert stored, "no submission went through"
    connection.close()
    rankings = Ranking.objects.filter(task__project=project)
    by_client = dict(rankings.values_list("client_id").annotate(n=Count("id")).order_by())
    # Every submission the clients saw succeed is stored exactly once, and nothing else was stored.
    assert {str(k) for k in by_client} == set(stored)
    assert set(by_client.values()) == {1}
    assert set(rankings.values_list("assignment_id", flat=True)) == set(stored.values())
