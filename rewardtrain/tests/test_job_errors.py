"""A failed job tells the project admin what failed in one line (no traceback, no server path); the traceback is
kept for site staff only (`error_detail`, null for everyone else). Training runs, scoring jobs and snapshot builds
here; generation jobs in rewardtrain/generation/tests/test_endpoints.py."""

import re

import pytest
from rest_framework.test import APIClient

from labeling.models import Project, Role
from labeling.services.tokens import api_token_create
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, make_user
from rewardtrain.params import snapshot_params_from
from rewardtrain.runs import scoring
from rewardtrain.runs import services as runs
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunStatus, ScoringJob
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build

pytestmark = pytest.mark.django_db

PATH = re.compile(r"/[\w.-]+/")


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    staff = make_user(is_staff=True)
    project = make_project(admin=staff)
    admin = add_member(project, role=Role.ADMIN)  # a project admin who is not site staff
    empty = tmp_path / "no-model-here"
    empty.mkdir()
    return project, admin, staff, empty


def _get(user, url: str) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def _assert_short_for_admins_and_detailed_for_staff(admin, staff, url: str, error: str) -> None:
    assert error and "\n" not in error and len(error) <= 200, error
    assert "Traceback" not in error and not PATH.search(error) and ".py" not in error, error
    seen = _get(admin, url)
    assert seen["error"] == error and seen["error_detail"] is None
    detail = _get(staff, url)["error_detail"]
    assert detail and "Traceback" in detail
    # A token scoped to the project carries no staff powers, whoever holds it.
    _token, key = api_token_create(
        user=staff, name="scoped", project=Project.objects.get(pk=url.split("/")[3])
    )
    scoped = APIClient()
    scoped.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = scoped.get(url)
    assert response.status_code == 200 and response.json()["error_detail"] is None


def test_a_failed_training_run(world):
    project, admin, staff, empty = world
    base = RegisteredModel.objects.create(project=project, name="base", kind=ModelKind.BASE, path=str(empty))
    snapshot = Snapshot.objects.create(
        project=project, version=1, kind=SnapshotKind.KWISE, status=SnapshotStatus.READY, params={}
    )  # ready, but its files are gone
    run = runs.training_run_create(
        project=project,
        user=staff,
        kind="rm",
        snapshot_id=snapshot.pk,
        base_model_id=base.pk,
        hyperparams={"max_steps": 1},
    )
    done = runs.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.FAILED
    _assert_short_for_admins_and_detailed_for_staff(
        admin, staff, f"/api/projects/{project.pk}/runs/{run.pk}/", done.error
    )
    rows = _get(admin, f"/api/projects/{project.pk}/runs/")
    assert rows[0]["error_detail"] is None


def test_a_failed_scoring_job(world):
    project, admin, staff, empty = world
    import_ranking_tasks(project, 1)
    rm = RegisteredModel.objects.create(project=project, name="rm", kind=ModelKind.RM, path=str(empty))
    job = scoring.scoring_job_create(project=project, user=staff, reward_model_id=rm.pk)
    done = scoring.scoring_job_execute(job_id=job.pk, worker="test")
    assert done.status == RunStatus.FAILED
    _assert_short_for_admins_and_detailed_for_staff(
        admin, staff, f"/api/projects/{project.pk}/scoring-jobs/{job.pk}/", done.error
    )
    assert ScoringJob.objects.get(pk=job.pk).error_detail.count("\n") > 2


def test_a_failed_snapshot_build(world, settings, tmp_path):
    project, admin, staff, _empty = world
    settings.MEDIA_ROOT = tmp_path / "a-file-not-a-folder"
    settings.MEDIA_ROOT.write_text("")
    snapshot = Snapshot.objects.create(
        project=project,
        version=1,
        kind="pairwise",
        params=snapshot_params_from({"kind": "pairwise", "validation_fraction": 0}).as_dict(),
    )
    failed = snapshot_build(snapshot_id=snapshot.pk)
    assert failed.status == SnapshotStatus.FAILED
    _assert_short_for_admins_and_detailed_for_staff(
        admin, staff, f"/api/projects/{project.pk}/snapshots/{snapshot.pk}/", failed.error
    )


def test_errors_stored_before_error_detail_existed_are_split_by_the_migration(world):
    """Rows failed under the old code kept the whole traceback in `error`, which admins read."""
    from django.apps import apps

    from rewardtrain.jobs import split_old_errors

    project, *_ = world
    old = 'Traceback (most recent call last):\n  File "/srv/app/x.py", line 3\nValueError: no file /srv/media/a.jsonl'
    failed = Snapshot.objects.create(
        project=project,
        version=1,
        kind=SnapshotKind.KWISE,
        status=SnapshotStatus.FAILED,
        params={},
        error=old,
    )
    short = Snapshot.objects.create(
        project=project,
        version=2,
        kind=SnapshotKind.KWISE,
        status=SnapshotStatus.FAILED,
        params={},
        error="x: y",
    )
    split_old_errors("rewardtrain", "Snapshot")(apps, None)
    failed.refresh_from_db()
    short.refresh_from_db()
    assert (failed.error, failed.error_detail) == ("ValueError: no file <path>", old)
    assert (short.error, short.error_detail) == ("x: y", "")


@pytest.mark.django_db(transaction=True)
def test_a_job_keeps_its_heartbeat_fresh_through_long_silent_stretches(world):
    """Staging a large model or uploading a checkpoint sends no progress; the worker is alive all the same."""
    import time
    from datetime import timedelta

    from django.utils import timezone

    from rewardtrain.jobs import job_keepalive
    from rewardtrain.runs.models import TrainingRun

    project, *_ = world
    base = RegisteredModel.objects.create(project=project, name="b", kind=ModelKind.BASE, path="org/name")
    snapshot = Snapshot.objects.create(
        project=project, version=1, kind=SnapshotKind.KWISE, status=SnapshotStatus.READY, params={}
    )
    long_ago = timezone.now() - timedelta(hours=1)
    run = TrainingRun.objects.create(
        project=project,
        kind="rm",
        snapshot=snapshot,
        base_model=base,
        status="running",
        heartbeat_at=long_ago,
    )
    with job_keepalive(TrainingRun, run.pk, every_s=0.05):
        time.sleep(0.5)
    run.refresh_from_db()
    assert run.heartbeat_at > timezone.now() - timedelta(seconds=5)
