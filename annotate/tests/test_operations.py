"""Probes, request ids, JSON logs, Prometheus metrics and the lost-job sweeper (real PostgreSQL and Redis)."""

import io
import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotate import health
from annotate.celery import app
from annotate.jobs import enqueue
from annotate.logging import ContextFilter, JsonFormatter, task_id_var
from annotate.metrics import queue_depths
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, new_client_id
from rewardtrain.lost_jobs.services import jobs_requeue_lost
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus


@pytest.fixture
def empty_queues():
    app.control.purge()
    health._workers_cache.update(at=0.0, value=None)
    yield
    app.control.purge()


@pytest.fixture
def json_log():
    """What the app's JSON handler writes, one parsed object per line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_healthz_and_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["X-Request-ID"] == "lb-1234.abc"
    # An id that could forge log fields or bloat them is replaced by a fresh one.
    forged = client.get("/healthz", HTTP_X_REQUEST_ID='x" "level":"ERROR')
    assert forged["X-Request-ID"] != 'x" "level":"ERROR' and len(forged["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_request_log_line_is_json_with_request_and_user(json_log):
    project = make_project()
    labeler = add_member(project)
    api = APIClient()
    api.force_authenticate(labeler)
    response = api.get("/api/projects/", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200
    lines = [entry for entry in json_log() if entry["logger"] == "annotate.request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-42" and line["user_id"] == labeler.pk
    assert line["path"] == "/api/projects/" and line["status"] == 200 and line["method"] == "GET"
    assert line["level"] == "INFO" and line["duration_ms"] >= 0 and line["time"].endswith("+00:00")


def test_task_logs_carry_the_task_id(json_log):
    token = task_id_var.set("task-7")
    try:
        logging.getLogger("labeling.tasks").warning("lease sweep %s", "done")
    finally:
        task_id_var.reset(token)
    (entry,) = [e for e in json_log() if e["message"] == "lease sweep done"]
    assert entry["task_id"] == "task-7" and "request_id" not in entry


@pytest.mark.django_db
def test_readyz_reports_database_broker_and_workers_per_queue(client, empty_queues, settings):
    settings.READYZ_INSPECT_TIMEOUT = 0.3
    body = client.get("/readyz").json()
    assert body["status"] == "ok" and body["checks"] == {"database": "ok", "broker": "ok"}
    # No worker runs in this test: a warning, still ready (labeling does not need workers).
    assert body["workers"] == {"default": 0, "gpu": 0}
    assert "no worker consumes the gpu queue" in body["warnings"]


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


@pytest.mark.django_db
def test_metrics_latency_annotations_queue_depth_and_jobs(client, empty_queues, settings):
    settings.READYZ_INSPECT_TIMEOUT = 0.3
    project = make_project()
    import_ranking_tasks(project, 2)
    labeler = add_member(project)
    api = APIClient()
    api.force_authenticate(labeler)
    before = _samples(client.get("/metrics").content.decode())
    lease = api.post(f"/api/projects/{project.pk}/assignments/next/").json()
    tiers = [[c["id"]] for c in lease["task"]["candidates"]]
    body = {"client_id": new_client_id(), "tiers": tiers, "seconds_spent": 3}
    assert api.post(f"/api/assignments/{lease['id']}/submit/", body, format="json").status_code == 201
    assert api.post(f"/api/assignments/{lease['id']}/submit/", body, format="json").status_code == 200
    Snapshot.objects.create(project=project, version=1, kind=SnapshotKind.PAIRWISE, params={}, manifest={})
    expire_leases = "labeling.tasks.expire_leases"
    assert enqueue(expire_leases) and enqueue(expire_leases)  # two messages wait: no worker runs here

    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    after = _samples(response.content.decode())
    submitted = 'annotate_annotations_submitted_total{kind="ranking"}'
    assert after[submitted] - before.get(submitted, 0) == 1  # the repeat stored nothing new
    route = 'method="POST",route="api/projects/<int:project_id>/assignments/next/",status="200"'
    count = f"annotate_http_request_duration_seconds_count{{{route}}}"
    assert after[count] - before.get(count, 0) == 1
    assert after['annotate_queue_depth{queue="default"}'] == 2
    assert after['annotate_queue_depth{queue="gpu"}'] == 0
    assert after["annotate_broker_up"] == 1
    assert after['annotate_jobs{kind="snapshot_build",status="queued"}'] >= 1
    assert 'annotate_jobs{kind="training_run",status="running"}' in after


def test_metrics_are_only_for_allowed_addresses_or_the_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    # Through a proxy the peer address is the proxy's: the token is needed.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    settings.METRICS_TOKEN = "s3cret-scrape"
    assert (
        client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    )
    ok = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert ok.status_code == 200 and b"annotate_http_request_duration_seconds" in ok.content


@pytest.mark.django_db
def test_sweeper_sends_lost_jobs_once_while_their_queue_is_empty(empty_queues):
    project = make_project()
    old = timezone.now() - timedelta(minutes=10)
    lost = Snapshot.objects.create(
        project=project, version=1, kind=SnapshotKind.PAIRWISE, params={}, manifest={}
    )
    fresh = Snapshot.objects.create(
        project=project, version=2, kind=SnapshotKind.PAIRWISE, params={}, manifest={}
    )
    done = Snapshot.objects.create(
        project=project, version=3, kind="pairwise", params={}, manifest={}, status=SnapshotStatus.READY
    )
    Snapshot.objects.filter(pk__in=[lost.pk, done.pk]).update(created_at=old)
    assert jobs_requeue_lost(older_than_s=60) == {
        "snapshot_build": [lost.pk],
        "training_run": [],
        "scoring_job": [],
        "generation_job": [],
    }
    assert queue_depths()["default"] == 1
    # Its message now waits in the queue: the next sweep does not add another.
    assert jobs_requeue_lost(older_than_s=60) == {
        "snapshot_build": [],
        "training_run": [],
        "scoring_job": [],
        "generation_job": [],
    }
    assert fresh.pk not in jobs_requeue_lost(older_than_s=3600)["snapshot_build"]


@pytest.mark.django_db
def test_sweeper_sends_lost_gpu_jobs_of_every_kind(empty_queues):
    from rewardtrain.generation.models import GenerationJob
    from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus, ScoringJob

    project = make_project()
    old = timezone.now() - timedelta(minutes=10)
    base = RegisteredModel.objects.create(project=project, name="base", kind=ModelKind.BASE, path="org/base")
    rm = RegisteredModel.objects.create(project=project, name="rm", kind=ModelKind.RM, path="org/rm")
    generation = GenerationJob.objects.create(project=project, model=base)
    scoring = ScoringJob.objects.create(project=project, reward_model=rm)
    cancelled = GenerationJob.objects.create(project=project, model=base, cancel_requested=True)
    finished = ScoringJob.objects.create(project=project, reward_model=rm, status=RunStatus.SUCCEEDED)
    for model, ids in (
        (GenerationJob, [generation.pk, cancelled.pk]),
        (ScoringJob, [scoring.pk, finished.pk]),
    ):
        model.objects.filter(pk__in=ids).update(created_at=old)
    sent = jobs_requeue_lost(older_than_s=60)
    assert sent["generation_job"] == [generation.pk] and sent["scoring_job"] == [scoring.pk]
    assert queue_depths()["gpu"] == 2
    assert jobs_requeue_lost(older_than_s=60)["generation_job"] == []  # its message waits in the queue
