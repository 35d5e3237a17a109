"""The broker (a private Redis of this test) stopped while labelers work, against gunicorn and a real worker:
labeling and submitting go on (they need only PostgreSQL), /readyz says the broker is down, and a job created
meanwhile runs once the broker is back (the lost-job sweeper sends it)."""

import subprocess
import sys
import time
import uuid

import pytest
import requests

from annotate.tests.live import (
    ROOT,
    PrivateRedis,
    process_env,
    start_gunicorn,
    start_worker,
    stop,
    wait_until,
)
from labeling.models import Ranking, Role
from labeling.services.tokens import api_token_create
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, make_user
from rewardtrain.snapshots.models import Snapshot, SnapshotStatus


def _label_one(session: requests.Session, url: str, project_id: int) -> str:
    start = time.monotonic()
    lease = session.post(f"{url}/api/projects/{project_id}/assignments/next/", timeout=30)
    assert lease.status_code == 200, lease.text
    body = lease.json()
    client_id = str(uuid.uuid4())
    payload = {
        "client_id": client_id,
        "tiers": [[c["id"]] for c in body["task"]["candidates"]],
        "seconds_spent": 2,
    }
    done = session.post(f"{url}/api/assignments/{body['id']}/submit/", json=payload, timeout=30)
    assert done.status_code == 201, done.text
    assert time.monotonic() - start < 10  # no waiting on the broker
    return client_id


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_broker_down_labeling_goes_on_and_jobs_run_when_it_is_back(tmp_path):
    redis = PrivateRedis()
    redis.start()
    admin = make_user(is_staff=True)
    project = make_project(admin=admin)
    import_ranking_tasks(project, 6)
    labeler = add_member(project, Role.LABELER)
    labeler_key = api_token_create(user=labeler, name="fault", project=project)[1]
    admin_key = api_token_create(user=admin, name="fault", project=project)[1]
    env = process_env(
        CELERY_BROKER_URL=redis.url, READYZ_INSPECT_TIMEOUT="0.5", READYZ_WORKERS_CACHE_SECONDS="0"
    )
    server, url = start_gunicorn(env, workers=1, threads=4)
    log = tmp_path / "worker.log"
    worker = start_worker("default", env, log)
    labeler_session, admin_session = requests.Session(), requests.Session()
    labeler_session.headers["Authorization"] = f"Token {labeler_key}"
    admin_session.headers["Authorization"] = f"Token {admin_key}"
    try:
        ready = wait_until(
            lambda: (
                (r := requests.get(f"{url}/readyz", timeout=10)).json().get("workers", {}).get("default")
                and r
            ),
            60,
            "the worker did not show on /readyz",
        )
        assert ready.status_code == 200 and ready.json()["checks"]["broker"] == "ok"
        submitted = [_label_one(labeler_session, url, project.pk)]

        redis.kill()
        down = requests.get(f"{url}/readyz", timeout=15)
        assert down.status_code == 503
        assert down.json()["checks"]["database"] == "ok"
        assert down.json()["checks"]["broker"].startswith("error")
        submitted += [_label_one(labeler_session, url, project.pk) for _ in range(2)]
        # A job created while the broker is down: the request succeeds and the job waits in its row.
        created = admin_session.post(f"{url}/api/projects/{project.pk}/snapshots/", json={"kind": "pairwise"})
        assert created.status_code == 202, created.text
        snapshot_id = created.json()["id"]
        assert Snapshot.objects.get(pk=snapshot_id).status == SnapshotStatus.QUEUED
        submitted.append(_label_one(labeler_session, url, project.pk))

        redis.start()  # the same port, empty: any message it held is gone
        wait_until(
            lambda: requests.get(f"{url}/readyz", timeout=15).status_code == 200, 30, "not ready again"
        )
        # What the beat's sweep does every minute, run as the management command an operator would use.
        sweep = subprocess.run(
            [sys.executable, "manage.py", "requeue_lost_jobs", "--older-than", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sweep.returncode == 0, sweep.stderr
        assert f"snapshot_build: 1 sent again [{snapshot_id}]" in sweep.stdout
        wait_until(
            lambda: Snapshot.objects.get(pk=snapshot_id).status == SnapshotStatus.READY,
            90,
            "the snapshot queued during the outage was not built",
        )
        snapshot = Snapshot.objects.get(pk=snapshot_id)
        assert snapshot.manifest["records"] == 4 * 6  # 4 rankings of K=4: C(4,2) pairs each
    finally:
        stop(worker)
        stop(server)
        redis.close()
    stored = Ranking.objects.filter(task__project=project)
    assert sorted(str(c) for c in stored.values_list("client_id", flat=True)) == sorted(submitted)
    assert "Traceback" not in log.read_text(errors="replace")
