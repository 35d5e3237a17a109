"""Runs on several GPUs: a real gpu worker (Celery, Redis) starts torchrun as a child process group. On this
machine the ranks are CPU processes over gloo, the worker told it has 2 "GPUs" (`ANNOTATE_WORKER_GPUS`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from django.db.models import Max
from safetensors.torch import load_file

from annotate.celery import app
from annotate.tests.live import ROOT, process_env, start_worker, stop, wait_until
from labeling.services.errors import ValidationFailed
from labeling.tests.factories import make_user
from rewardtrain.runs import services
from rewardtrain.runs.models import ModelKind, RunMetric, RunStatus, TrainingRun
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.snapshots.services import snapshot_dir
from rewardtrain.tests.helpers import ranking_project, store_snapshot_files
from rewardtrain.training.cli import config_argv
from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

pytestmark = pytest.mark.usefixtures("model_root")
ENV = {"OMP_NUM_THREADS": "1", "ANNOTATE_WORKER_GPUS": "2"}
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
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
    write_jsonl(folder / "train.jsonl", planted_kwise_records(16, seed=1))
    store_snapshot_files(snapshot, folder)
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    base = services.registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.BASE, **rooted(tmp_path / "tiny")
    )

    def new_run(gpus: int = 2, **hyperparams) -> TrainingRun:
        return services.training_run_create(
            project=project,
            user=admin,
            kind="rm",
            snapshot_id=snapshot.pk,
            base_model_id=base.pk,
            hyperparams={"batch_size": 1, "lr": 1e-3, "bf16": False, **hyperparams},
            gpus=gpus,
        )

    return new_run


def _gpu_worker(tmp_path: Path, **extra: str):
    app.control.purge()
    return start_worker("gpu", process_env(**ENV, **extra), tmp_path / "worker.log")


def _finished(run_id: int, seconds: float = 240) -> TrainingRun:
    wait_until(
        lambda: TrainingRun.objects.get(pk=run_id).status in FINISHED,
        seconds,
        "the run did not finish",
        every=0.5,
    )
    return TrainingRun.objects.get(pk=run_id)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return {
        f"{path.name}:{key}": value
        for path in sorted(folder.glob("*.safetensors"))
        for key, value in load_file(path).items()
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_two_gpu_run_through_the_worker_matches_the_command_line_ddp_run(world, client, tmp_path, settings):
    worker = _gpu_worker(tmp_path)
    try:
        settings.READYZ_WORKERS_CACHE_SECONDS = 0
        wait_until(lambda: client.get("/readyz").json()["workers"]["gpu"] == 1, 60, "no gpu worker")
        assert list(client.get("/readyz").json()["gpu_workers"].values()) == [2]
        run = world(max_steps=4)
        done = _finished(run.pk)
    finally:
        stop(worker)
    assert done.status == RunStatus.SUCCEEDED, done.error_detail
    assert done.step == 4 and done.final_metrics["steps"] == 4, done.final_metrics
    steps = list(RunMetric.objects.filter(run=done, kind="step").values_list("step", flat=True))
    assert steps == [1, 2, 3, 4]  # progress streamed from rank 0, one row per step

    # The same configuration, launched by hand as the training README says.
    config = services._config(done)
    config.out = str(tmp_path / "by-hand")
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    subprocess.run(
        [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"),
            *("-m", "rewardtrain.training", *config_argv("rm", config), "--progress=none"),
        ],
        cwd=ROOT,
        env={**env, "OMP_NUM_THREADS": "1"},
        check=True,
        capture_output=True,
        timeout=300,
    )
    through_worker, by_hand = _weights(Path(done.output_dir)), _weights(Path(config.out))
    assert through_worker.keys() == by_hand.keys() and through_worker
    for name in through_worker:
        assert torch.equal(through_worker[name], by_hand[name]), name


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_every_rank_within_a_step_or_two(world, tmp_path):
    worker = _gpu_worker(tmp_path)
    try:
        # Eight micro-batches a step: a step stays longer than the time the worker takes to read a progress line,
        # even on a loaded machine (with one tiny micro-batch a step, ranks ran 4 steps past the stop).
        run = world(max_steps=400, grad_accum=8)
        wait_until(
            lambda: RunMetric.objects.filter(run=run, kind="step", step__gte=3).exists(),
            240,
            "no step reported",
            every=0.2,
        )
        services.training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))
        asked_at = RunMetric.objects.filter(run=run, kind="step").aggregate(n=Max("step"))["n"]
        done = _finished(run.pk)
    finally:
        stop(worker)
    assert done.status == RunStatus.CANCELLED, done.error
    # The worker sees the flag at the next reported step and writes the stop file; every rank reads it at the
    # end of the step it is in and they all stop together after a checkpoint.
    assert asked_at <= done.step <= asked_at + 3, (asked_at, done.step)
    ranks = subprocess.run(["pgrep", "-f", done.output_dir], capture_output=True, text=True).stdout
    assert not ranks.strip(), ranks


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_crashing_rank_fails_the_run_with_its_traceback(world, tmp_path):
    worker = _gpu_worker(tmp_path, REWARDTRAIN_FAULT="1:2")
    try:
        done = _finished(world(max_steps=20).pk)
    finally:
        stop(worker)
    assert done.status == RunStatus.FAILED
    assert done.error.startswith("RankFailed: rank 1 failed: RuntimeError: injected fault"), done.error
    assert "\n" not in done.error
    assert (
        "Traceback" in done.error_detail
        and "injected fault (REWARDTRAIN_FAULT) on rank 1" in done.error_detail
    )


@pytest.mark.django_db
def test_a_worker_refuses_a_run_asking_for_more_gpus_than_it_has(world, settings):
    settings.ANNOTATE_WORKER_GPUS = 2
    run = world(gpus=3, max_steps=2)
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.FAILED
    assert done.error == "TooFewGpus: the run asks for 3 GPUs; this worker has 2"
    assert not Path(done.output_dir, "torchrun").exists()  # refused before any process started


@pytest.mark.django_db
def test_gpus_is_checked_when_the_run_is_created(world):
    for gpus in (0, 65, 1.5, True):
        with pytest.raises(ValidationFailed) as refused:
            world(gpus=gpus)
        assert [e.field for e in refused.value.errors] == ["gpus"]
    assert world(gpus=64).gpus == 64


@pytest.mark.django_db
def test_a_run_always_saves_its_lora_model_merged(world):
    """An adapter folder would name the base model's path on the worker that trained it."""
    with pytest.raises(ValidationFailed) as refused:
        world(gpus=1, lora_r=4, lora_merge=False)
    assert [e.field for e in refused.value.errors] == ["lora_merge"]
