"""A Celery worker killed (SIGKILL) in the middle of a training run and of a snapshot build: the job is taken up
again by a new worker and ends with the same result as an uninterrupted one, with no duplicate records."""

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import torch
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone
from safetensors.torch import load_file

from annotate.celery import app
from annotate.tests.live import process_env, start_worker, stop, wait_until
from labeling.tests.factories import add_member, make_user
from rewardtrain.jobs import HEARTBEAT_STALE
from rewardtrain.lost_jobs.services import jobs_requeue_lost
from rewardtrain.runs import services
from rewardtrain.runs.models import ModelKind, RegisteredModel, RunMetric, RunStatus, TrainingRun
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.snapshots.services import STALE_BUILD_SECONDS, snapshot_build, snapshot_create, snapshot_dir
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project, store_snapshot_files
from rewardtrain.training.checkpoint import list_checkpoints
from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

HYPERPARAMS = {"max_steps": 60, "batch_size": 2, "lr": 1e-3, "save_every": 10}
# One thread everywhere, so the interrupted run and the reference add up floats in the same order.
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _weights(run: TrainingRun) -> dict[str, torch.Tensor]:
    files = sorted(Path(run.output_dir).glob("*.safetensors"))
    assert files, f"no weights in {run.output_dir}"
    return {f"{path.name}:{key}": value for path in files for key, value in load_file(path).items()}


def _no_duplicate_metrics(run: TrainingRun) -> None:
    rows = RunMetric.objects.filter(run=run).exclude(kind="start")
    repeated = rows.values("kind", "step").annotate(n=Count("id")).filter(n__gt=1)
    assert not repeated.exists(), list(repeated)
    steps = sorted(rows.filter(kind="step").values_list("step", flat=True))
    assert steps == list(range(1, HYPERPARAMS["max_steps"] + 1))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_training_run_resumes_after_its_worker_is_killed_with_the_same_weights(media, tmp_path, one_thread):
    admin = make_user(is_staff=True)
    project = ranking_project(1)[0]
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
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    base = services.registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.BASE, **rooted(tmp_path / "tiny")
    )

    def new_run() -> TrainingRun:
        return services.training_run_create(
            project=project,
            user=admin,
            kind="rm",
            snapshot_id=snapshot.pk,
            base_model_id=base.pk,
            hyperparams=HYPERPARAMS,
        )

    reference = new_run()
    assert (
        services.training_run_execute(run_id=reference.pk, worker="reference").status == RunStatus.SUCCEEDED
    )
    app.control.purge()
    env = process_env(**ENV)
    log = tmp_path / "worker.log"
    first = start_worker("gpu", env, log)
    second = None
    try:
        run = new_run()  # queued after commit; the first worker takes it
        wait_until(
            lambda: list_checkpoints(TrainingRun.objects.get(pk=run.pk).output_dir),
            120,
            "no checkpoint written",
        )
        stop(first, sig=9)
        killed = TrainingRun.objects.get(pk=run.pk)
        assert killed.status == RunStatus.RUNNING and killed.attempts == 1
        steps_done = RunMetric.objects.filter(run=run, kind="step").aggregate(n=Max("step"))["n"]
        assert 10 <= steps_done < HYPERPARAMS["max_steps"]  # killed half-way, after a checkpoint
        # A dead worker sends no more heartbeats: once its heartbeat is stale (here: made so, instead of
        # waiting ten minutes) the beat's sweep queues the run again and a new worker resumes it.
        TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - HEARTBEAT_STALE)
        assert services.training_runs_requeue_stale() == [run.pk]
        second = start_worker("gpu", env, log)
        wait_until(
            lambda: TrainingRun.objects.get(pk=run.pk).status != RunStatus.RUNNING,
            120,
            "the run did not finish",
        )
    finally:
        stop(first, sig=9)
        if second is not None:
            stop(second)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 2 and run.step == HYPERPARAMS["max_steps"]
    assert RegisteredModel.objects.filter(produced_by=run).count() == 1
    _no_duplicate_metrics(run)
    expected, got = _weights(reference), _weights(run)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert "Traceback" not in log.read_text(errors="replace")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_snapshot_build_taken_over_after_its_worker_is_killed_gives_the_same_files(media, tmp_path):
    project, tasks = ranking_project(30, k=4)
    labelers = [add_member(project) for _ in range(2)]
    for i, task in enumerate(tasks):
        ids = candidate_ids(task)
        for labeler in labelers:
            rank(task, labeler, [[ids[i % 4]], [ids[(i + 1) % 4], ids[(i + 2) % 4]], [ids[(i + 3) % 4]]])
    settings_data = {"kind": "pairwise", "validation_fraction": 0.2, "seed": 5}
    reference = snapshot_create(project=project, user=None, settings_data=settings_data)
    reference = snapshot_build(snapshot_id=reference.pk)
    assert reference.status == SnapshotStatus.READY
    app.control.purge()

    env = process_env()
    log = tmp_path / "worker.log"
    db = connection.settings_dict
    # Another session holds the rankings table, so the build stops half-way, after it has claimed its row and
    # started its files: the moment to kill its worker.
    blocker = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"] or None, dbname=db["NAME"]
    )
    first = start_worker("default", env, log)
    second = None
    try:
        blocker.execute("LOCK TABLE labeling_ranking IN ACCESS EXCLUSIVE MODE")
        snapshot = snapshot_create(project=project, user=None, settings_data=settings_data)

        def build_waits() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
                waiting = cursor.fetchone()[0]
            return waiting > 0 and Snapshot.objects.get(pk=snapshot.pk).status == SnapshotStatus.BUILDING

        wait_until(build_waits, 60, "the build did not start")
        stop(first, sig=9)
        blocker.rollback()
        assert Snapshot.objects.get(pk=snapshot.pk).status == SnapshotStatus.BUILDING
        # A build has no heartbeat: once it has been building for longer than any build takes (here: made so),
        # the sweep sends it again; its message died unacknowledged with the worker, so its queue is empty.
        Snapshot.objects.filter(pk=snapshot.pk).update(
            started_at=timezone.now() - timedelta(seconds=STALE_BUILD_SECONDS + 1)
        )
        assert jobs_requeue_lost() == {
            "snapshot_build": [snapshot.pk],
            "training_run": [],
            "scoring_job": [],
            "generation_job": [],
        }
        second = start_worker("default", env, log)
        wait_until(
            lambda: Snapshot.objects.get(pk=snapshot.pk).status == SnapshotStatus.READY, 90, "not rebuilt"
        )
    finally:
        blocker.close()
        stop(first, sig=9)
        if second is not None:
            stop(second)
    snapshot = Snapshot.objects.get(pk=snapshot.pk)
    assert Snapshot.objects.filter(project=project).count() == 2
    assert snapshot.manifest["records"] == reference.manifest["records"] > 0
    assert snapshot.manifest["files"] == reference.manifest["files"]  # sizes and SHA-256 of every file
    for name in reference.manifest["files"]:
        assert (snapshot_dir(snapshot) / name).read_bytes() == (snapshot_dir(reference) / name).read_bytes()
    leftovers = [p.name for p in snapshot_dir(snapshot).parent.iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers
    assert "Traceback" not in log.read_text(errors="replace")
