"""GPU workers on other machines: each worker runs in a network namespace of its own ("host"), with its own empty
var folder and no path into this process's files, reaching PostgreSQL, Redis and the object store (moto's S3
server, a separate process) over a veth pair. This process plays the web host: it takes the rankings and builds
the snapshot into the store.

Rankings → snapshot (in the store) → reward-model run on host A → killed mid-run → resumed on host B from the
checkpoint A stored → registered model → scoring job on host B, which stages the model from the store."""

import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import torch
from django.conf import settings
from django.db import connection
from safetensors.torch import load_file

from annotate import storage
from annotate.celery import app
from annotate.tests.live import process_env, start_worker, stop, wait_until
from labeling.models import Candidate, Role
from rewardtrain.jobs import HEARTBEAT_STALE
from rewardtrain.runs import scoring, services
from rewardtrain.runs.artifacts import registered_model_locate
from rewardtrain.runs.models import CandidateScore, ModelKind, RegisteredModel, RunStatus, TrainingRun
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.snapshots.models import SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_create
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer
from tests.hosts import can_make_hosts, host

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("model_root"),
    pytest.mark.skipif(can_make_hosts() is not None, reason=str(can_make_hosts())),
]
HYPERPARAMS = {"max_steps": 40, "batch_size": 2, "lr": 1e-3, "save_every": 8}
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the reference run adds floats in the same order as the workers
    yield
    torch.set_num_threads(threads)


def _worker_env(on: "host", s3, bucket: str, root: Path, models: Path) -> dict[str, str]:
    """What a GPU node is given: service addresses, store credentials, and folders of its own."""
    db = connection.settings_dict
    redis = urlsplit(settings.CELERY_BROKER_URL)
    moto_port = urlsplit(s3.endpoint).port
    store = s3.env(bucket, "annotate")
    return process_env(
        DATABASE_URL=f"postgres://{db['USER']}@{on.address(int(db['PORT']))}/{db['NAME']}",
        CELERY_BROKER_URL=f"redis://{on.address(redis.port)}{redis.path}",
        **{**store, "AWS_S3_ENDPOINT_URL": f"http://{on.address(moto_port)}"},
        ANNOTATE_VAR_DIR=str(root / "var"),
        DJANGO_MEDIA_ROOT=str(root / "var" / "media"),
        ANNOTATE_CACHE_DIR=str(root / "var" / "cache"),
        ANNOTATE_MODEL_ROOTS=json.dumps({"pytest": str(models)}),  # this node's own copy of the base models
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )


def _weights(model: RegisteredModel) -> dict[str, torch.Tensor]:
    folder = Path(registered_model_locate(model).path)
    return {
        f"{p.name}:{k}": v for p in sorted(folder.glob("*.safetensors")) for k, v in load_file(str(p)).items()
    }


def test_gpu_workers_on_other_hosts_train_resume_and_score_through_the_store(
    s3_storage, settings, tmp_path, one_thread
):
    s3 = s3_storage
    bucket = settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
    settings.MEDIA_ROOT = tmp_path / "web" / "media"
    settings.ANNOTATE_CACHE_DIR = tmp_path / "web" / "cache"

    # The web host: rankings, then a K-wise snapshot built into the store.
    project, tasks = ranking_project(12, k=4)
    admin = project.memberships.get(role=Role.ADMIN).user
    for task in tasks:
        ids = candidate_ids(task)
        rank(task, admin, [[ids[0]], [ids[1], ids[2]], [ids[3]]])
    snapshot = snapshot_build(
        snapshot_id=snapshot_create(
            project=project, user=admin, settings_data={"kind": "kwise", "validation_fraction": 0.25}
        ).pk
    )
    assert snapshot.status == SnapshotStatus.READY, snapshot.error
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.jsonl"))  # the files are in the store only

    # The base model: each host's operator keeps a copy under its own model root (same root name).
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    base = services.registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.BASE, **rooted(tmp_path / "tiny")
    )
    relative = rooted(tmp_path / "tiny")["path"]
    node_models = {}
    for node in ("a", "b"):
        node_models[node] = tmp_path / f"node-{node}" / "models"
        shutil.copytree(tmp_path / "tiny", node_models[node] / relative)

    def new_run() -> TrainingRun:
        return services.training_run_create(
            project=project,
            user=admin,
            kind="rm",
            snapshot_id=snapshot.pk,
            base_model_id=base.pk,
            hyperparams=HYPERPARAMS,
        )

    # The reference: the same run, uninterrupted, trained here.
    reference = services.training_run_execute(run_id=new_run().pk, worker="reference")
    assert reference.status == RunStatus.SUCCEEDED, reference.error_detail

    db_port = int(connection.settings_dict["PORT"])
    forward = [db_port, urlsplit(settings.CELERY_BROKER_URL).port, urlsplit(s3.endpoint).port]
    app.control.purge()
    with host(1, forward) as node_a, host(2, forward) as node_b:
        env_a = _worker_env(node_a, s3, bucket, tmp_path / "node-a", node_models["a"])
        env_b = _worker_env(node_b, s3, bucket, tmp_path / "node-b", node_models["b"])
        worker_a = start_worker("gpu", env_a, tmp_path / "node-a.log", prefix=node_a.prefix)
        worker_b = None
        try:
            run = new_run()
            checkpoints = f"runs/{project.pk}/{run.pk}/checkpoints"
            wait_until(
                lambda: any(k.endswith("manifest.json") for k in storage.keys_under(checkpoints)),
                240,
                "host A stored no checkpoint",
                every=0.5,
            )
            stop(worker_a, sig=9)  # the node dies: nothing of its disk survives for the next one
            shutil.rmtree(tmp_path / "node-a" / "var")
            killed = TrainingRun.objects.get(pk=run.pk)
            assert killed.status == RunStatus.RUNNING and killed.step < HYPERPARAMS["max_steps"]
            TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=killed.heartbeat_at - HEARTBEAT_STALE)
            assert services.training_runs_requeue_stale() == [run.pk]
            worker_b = start_worker("gpu", env_b, tmp_path / "node-b.log", prefix=node_b.prefix)
            wait_until(
                lambda: TrainingRun.objects.get(pk=run.pk).status in FINISHED, 240, "host B did not finish"
            )
            done = TrainingRun.objects.get(pk=run.pk)
            assert done.status == RunStatus.SUCCEEDED, done.error_detail
            assert done.attempts == 2

            # The model was published to the store by host B, and is the same as the uninterrupted one.
            trained = RegisteredModel.objects.get(produced_by=done)
            assert trained.path == f"runs/{project.pk}/{run.pk}/manifest.json", trained.path
            assert storage.exists(f"runs/{project.pk}/{run.pk}/manifest.json")
            ours = _weights(trained)
            expected = _weights(RegisteredModel.objects.get(produced_by=reference))
            assert ours.keys() == expected.keys() and ours
            for name in ours:
                assert torch.equal(ours[name], expected[name]), name

            # Host B scores every candidate with it, staging the model from the store into its own cache.
            job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=trained.pk)
            wait_until(
                lambda: type(job).objects.get(pk=job.pk).status in FINISHED,
                240,
                "the scoring job did not end",
            )
            job.refresh_from_db()
            assert job.status == RunStatus.SUCCEEDED, job.error_detail
            candidates = Candidate.objects.filter(prompt__project=project).count()
            assert CandidateScore.objects.filter(reward_model=trained).count() == candidates
            assert any((tmp_path / "node-b" / "var" / "cache").rglob("*"))
        finally:
            stop(worker_a, sig=9)
            if worker_b is not None:
                stop(worker_b)
    for node in ("a", "b"):
        log = tmp_path / f"node-{node}.log"
        assert "OperationalError" not in log.read_text(errors="replace")
