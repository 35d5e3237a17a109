import time
from pathlib import Path

import pytest
from django.db.models import Max
from rest_framework.test import APIClient

from annotate.tests.live import process_env, start_worker, stop
from labeling.models import Role
from labeling.services.errors import ServiceError
from labeling.tests.factories import add_member, make_project, make_user
from rewardtrain.jobs import HEARTBEAT_STALE
from rewardtrain.runs import services
from rewardtrain.runs.artifacts import registered_model_locate
from rewardtrain.runs.models import (
    ModelKind,
    ModelSource,
    RegisteredModel,
    RunMetric,
    RunStatus,
    TrainingRun,
)
from rewardtrain.runs.selectors import run_lineage
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.snapshots.services import snapshot_dir
from rewardtrain.tests.helpers import store_snapshot_files
from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def setup(media, tmp_path):
    admin = make_user(is_staff=True)
    project = make_project(admin=admin)
    snapshot = Snapshot.objects.create(
        project=project,
        version=1,
        kind=SnapshotKind.KWISE,
        status=SnapshotStatus.READY,
        params={},
        manifest={},
    )
    folder = snapshot_dir(snapshot)
    folder.mkdir(parents=True)
    write_jsonl(folder / "train.jsonl", planted_kwise_records(24, seed=1))
    write_jsonl(folder / "validation.jsonl", planted_kwise_records(8, seed=2))
    store_snapshot_files(snapshot, folder)
    model_dir = tmp_path / "tiny"
    build_tiny_model_and_tokenizer(model_dir, corpus=CORPUS)
    base = services.registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.BASE, **rooted(model_dir)
    )
    return project, admin, snapshot, base


def _run(setup, **hyperparams):
    project, admin, snapshot, base = setup
    return services.training_run_create(
        project=project,
        user=admin,
        kind="rm",
        snapshot_id=snapshot.pk,
        base_model_id=base.pk,
        hyperparams=hyperparams,
    )


@pytest.mark.django_db
def test_rm_run_trains_streams_metrics_and_registers_its_model(setup):
    run = _run(setup, max_steps=3, batch_size=4, lr=1e-3)
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.step == 3 and done.attempts == 1
    assert RunMetric.objects.filter(run=run, kind="step").count() == 3
    assert "accuracy" in done.final_metrics or done.final_metrics
    model = RegisteredModel.objects.get(produced_by=run)
    assert model.source == ModelSource.RUN  # the run's own output, not an admin's path
    assert model.path == f"runs/{run.project_id}/{run.pk}/manifest.json"  # a stored artifact, not a host path
    located = registered_model_locate(model)
    # On the default store the model is loaded from where the run wrote it: nothing is copied.
    assert model.kind == ModelKind.RM and located.path == done.output_dir
    assert Path(located.path, "reward_head.safetensors").is_file()
    from rewardtrain.training import load_reward_model

    load_reward_model(located.path)  # the registered model loads with the training package


@pytest.mark.django_db
def test_cancel_stops_within_one_step(setup, monkeypatch):
    run = _run(setup, max_steps=40, batch_size=2)
    original = services._Recorder.__call__

    def cancel_at_step_two(self, event):
        original(self, event)
        if event.kind == "step" and event.step == 2:
            TrainingRun.objects.filter(pk=self.run.pk).update(cancel_requested=True)

    monkeypatch.setattr(services._Recorder, "__call__", cancel_at_step_two)
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.CANCELLED
    assert done.step <= 3
    assert not RegisteredModel.objects.filter(produced_by=run).exists()


@pytest.mark.django_db
def test_failure_keeps_a_one_line_error_and_the_traceback_apart(setup):
    run = _run(setup, max_steps=2)
    for path in snapshot_dir(run.snapshot).iterdir():
        path.unlink()
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.FAILED
    assert done.error and "\n" not in done.error and "Traceback" not in done.error  # one line for admins
    assert "Traceback" in done.error_detail  # the traceback, for site staff


@pytest.mark.django_db
def test_duplicate_delivery_does_not_train_twice_but_a_dead_worker_is_replaced(setup):
    run = _run(setup, max_steps=1)
    assert services._claim(run.pk, "worker-a") is not None
    assert services._claim(run.pk, "worker-b") is None  # the same message delivered again
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=run.created_at - HEARTBEAT_STALE)
    again = services._claim(run.pk, "worker-b")
    assert again is not None and again.attempts == 2 and again.worker == "worker-b"


@pytest.mark.django_db
def test_bad_requests_are_refused_clearly(setup):
    project, admin, snapshot, base = setup
    with pytest.raises(ServiceError) as info:
        services.training_run_create(
            project=project, user=admin, kind="sft", snapshot_id=snapshot.pk, base_model_id=base.pk
        )
    assert "trains on a sft snapshot" in str(info.value)
    with pytest.raises(ServiceError) as info:
        _run(setup, learning_rate=1)
    assert info.value.errors[0].field == "learning_rate"
    with pytest.raises(ServiceError) as info:
        _run(setup, max_steps="ten")
    assert info.value.errors[0].field == "max_steps"
    with pytest.raises(ServiceError):
        services.registered_model_create(
            project=project, user=admin, name="x", kind="base", root="pytest", path="no/such/dir"
        )


@pytest.mark.django_db
def test_api_is_for_project_admins(setup):
    project, admin, snapshot, base = setup
    labeler, outsider = add_member(project, Role.REVIEWER), make_user()
    url = f"/api/projects/{project.pk}/runs/"
    for user, expected in ((labeler, 403), (outsider, 404)):
        client = APIClient()
        client.force_authenticate(user)
        assert client.get(url).status_code == expected
    client = APIClient()
    client.force_authenticate(admin)
    created = client.post(
        url,
        {"kind": "rm", "snapshot": snapshot.pk, "base_model": base.pk, "hyperparams": {"max_steps": 1}},
        format="json",
    )
    assert created.status_code == 201, created.content
    run_id = created.json()["id"]
    assert client.get(f"{url}{run_id}/").json()["metrics"] == []
    assert client.post(f"{url}{run_id}/cancel/").json()["status"] == "cancelled"
    lineage = client.get(f"{url}{run_id}/lineage/").json()
    assert lineage["snapshot"]["version"] == 1 and lineage["base_model"]["name"] == "tiny"
    assert client.get(f"/api/projects/{project.pk}/models/").json()[0]["name"] == "tiny"


@pytest.mark.django_db(transaction=True)
def test_gpu_worker_runs_a_job_end_to_end_and_a_cancel_stops_it(setup, media, tmp_path):
    """A real Celery worker on the `gpu` queue (real Redis) trains from a snapshot to a registered model."""
    from annotate.celery import app

    app.control.purge()
    log = tmp_path / "worker.log"
    worker = start_worker("gpu", process_env(DJANGO_MEDIA_ROOT=str(media)), log)
    try:
        run = _run(setup, max_steps=2, batch_size=2)  # queued on commit, picked up by the worker
        long_run = _run(setup, max_steps=500, batch_size=2)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            run.refresh_from_db()
            long_run.refresh_from_db()
            steps_done = RunMetric.objects.filter(run=long_run, kind="step").aggregate(n=Max("step"))["n"]
            if steps_done and not long_run.cancel_requested and long_run.status == RunStatus.RUNNING:
                services.training_run_cancel(run=long_run)
                # Steps finished by the time the request was stored; at most the one in flight may follow.
                cancelled_at = RunMetric.objects.filter(run=long_run, kind="step").aggregate(n=Max("step"))[
                    "n"
                ]
            if run.status == RunStatus.SUCCEEDED and long_run.status == RunStatus.CANCELLED:
                break
            time.sleep(0.2)
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert RegisteredModel.objects.filter(produced_by=run, kind=ModelKind.RM).exists()
        assert long_run.status == RunStatus.CANCELLED, (long_run.status, long_run.error)
        # It stopped within one step of the request: the step in flight when it came, and no other.
        assert long_run.step <= cancelled_at + 1
    finally:
        stop(worker)
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output


@pytest.mark.django_db
def test_from_labelers_rankings_to_a_trained_reward_model(media, tmp_path):
    """The loop's second half: rankings -> kwise snapshot (the real build) -> RM run -> registered model."""
    from rewardtrain.snapshots.services import snapshot_build, snapshot_create
    from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project

    project, tasks = ranking_project(12, k=4)
    labeler = add_member(project)
    for task in tasks:
        ids = candidate_ids(task)
        rank(task, labeler, [[ids[0]], [ids[1], ids[2]], [ids[3]]])
    snapshot = snapshot_create(
        project=project, user=None, settings_data={"kind": "kwise", "validation_fraction": 0.25, "seed": 3}
    )
    snapshot = snapshot_build(snapshot_id=snapshot.pk)
    assert snapshot.status == SnapshotStatus.READY, snapshot.error
    model_dir = tmp_path / "tiny"
    build_tiny_model_and_tokenizer(model_dir, corpus=CORPUS)
    base = services.registered_model_create(
        project=project, user=None, name="tiny", kind="base", **rooted(model_dir)
    )
    run = services.training_run_create(
        project=project,
        user=None,
        kind="rm",
        snapshot_id=snapshot.pk,
        base_model_id=base.pk,
        hyperparams={"max_steps": 2, "batch_size": 2},
    )
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert RegisteredModel.objects.get(produced_by=run).kind == ModelKind.RM
    assert run_lineage(TrainingRun.objects.get(pk=run.pk))["snapshot"]["id"] == snapshot.pk


def test_undefined_figures_are_stored_as_null():
    assert services._finite({"val_accuracy_gap_3": float("nan"), "loss": 0.5, "n": 3}) == {
        "val_accuracy_gap_3": None,
        "loss": 0.5,
        "n": 3,
    }
