"""Trained models and checkpoints go through the storage layer. With an S3-compatible store (moto's server, a
separate process) each "host" below is a fresh settings override: its own empty MEDIA_ROOT and worker cache,
sharing only the database and the store. A run publishes its model there, a scoring job on another host
stages it from there, and a run taken up on another host resumes from its stored checkpoint."""

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
import torch
from django.utils import timezone
from safetensors.torch import load as safetensors_load
from safetensors.torch import load_file

from annotate import storage
from labeling.models import Candidate, Role
from labeling.services.errors import ValidationFailed
from rewardtrain.artifact_cache import CorruptArtifact
from rewardtrain.jobs import HEARTBEAT_STALE
from rewardtrain.runs import scoring, services
from rewardtrain.runs.artifacts import registered_model_locate
from rewardtrain.runs.models import (
    CandidateScore,
    ModelKind,
    ModelSource,
    RegisteredModel,
    RunMetric,
    RunStatus,
    TrainingRun,
)
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.snapshots.models import Snapshot, SnapshotKind, SnapshotStatus
from rewardtrain.staging import model_stage, worker_cache
from rewardtrain.tests.helpers import ranking_project, store_snapshot_files
from rewardtrain.training.tests.helpers import CORPUS, planted_kwise_records, write_jsonl
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

RESUME_PARAMS = {"max_steps": 12, "batch_size": 2, "lr": 1e-3, "save_every": 5}


@pytest.fixture
def host(settings, tmp_path):
    """`host(name)` makes this process a machine of its own: an empty MEDIA_ROOT and worker cache."""

    def become(name: str) -> Path:
        root = tmp_path / "hosts" / name
        settings.MEDIA_ROOT = root / "media"
        settings.ANNOTATE_CACHE_DIR = root / "cache"
        return root

    return become


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the interrupted run and the reference add up floats in the same order
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def setup(s3_storage, host, tmp_path):
    """On the web host: a project with candidates to score, a stored K-wise snapshot and a tiny base model."""
    host("web")
    project, _ = ranking_project(3, k=4)
    admin = project.memberships.get(role=Role.ADMIN).user
    snapshot = Snapshot.objects.create(
        project=project, version=1, kind=SnapshotKind.KWISE, status=SnapshotStatus.READY, params={}
    )
    files = tmp_path / "snapshot-files"
    files.mkdir()
    write_jsonl(files / "train.jsonl", planted_kwise_records(24, seed=1))
    write_jsonl(files / "validation.jsonl", planted_kwise_records(8, seed=2))
    store_snapshot_files(snapshot, files)
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    base = services.registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.BASE, **rooted(tmp_path / "tiny")
    )
    return project, admin, snapshot, base


def _run(setup, gpus: int = 1, **hyperparams) -> TrainingRun:
    project, admin, snapshot, base = setup
    return services.training_run_create(
        project=project,
        user=admin,
        kind="rm",
        snapshot_id=snapshot.pk,
        base_model_id=base.pk,
        hyperparams=hyperparams,
        gpus=gpus,
    )


def _objects(s3, settings, prefix: str) -> dict[str, bytes]:
    """The store's objects under `prefix` (a storage key), read with boto3 straight from the server."""
    options = settings.STORAGES["default"]["OPTIONS"]
    bucket, location = options["bucket_name"], options["location"]
    client = s3.client()
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{location}/{prefix}/").get("Contents", [])
    return {
        o["Key"][len(location) + 1 :]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in listed
    }


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    files = sorted(Path(folder).glob("*.safetensors"))
    assert files, f"no weights in {folder}"
    return {f"{path.name}:{key}": value for path in files for key, value in load_file(path).items()}


@pytest.mark.django_db
def test_run_publishes_its_model_and_a_scoring_job_on_another_host_stages_it(
    s3_storage, settings, host, setup, capsys
):
    project, admin, _, _ = setup
    worker_a = host("gpu-a")
    run = _run(setup, max_steps=3, batch_size=4, lr=1e-3)
    done = services.training_run_execute(run_id=run.pk, worker="gpu-a")
    assert done.status == RunStatus.SUCCEEDED, done.error
    model = RegisteredModel.objects.get(produced_by=run)
    # The reference names the stored artifact (its manifest), not a folder of the host that trained it.
    assert model.source == ModelSource.RUN and model.path == f"runs/{project.pk}/{run.pk}/manifest.json"

    stored = _objects(s3_storage, settings, f"runs/{project.pk}/{run.pk}")
    manifest = json.loads(stored.pop(model.path))
    names = {f["name"] for f in manifest["files"]}
    assert {"model.safetensors", "reward_head.safetensors", "config.json", "metrics.json"} <= names
    assert set(stored) == {f"runs/{project.pk}/{run.pk}/{name}" for name in names}  # every file, nothing else
    for f in manifest["files"]:
        body = stored[f"runs/{project.pk}/{run.pk}/{f['name']}"]
        assert len(body) == f["size"] and hashlib.sha256(body).hexdigest() == f["sha256"]
    assert not Path(done.output_dir).exists()  # published, then gone from the GPU node's disk

    # Another host: an empty MEDIA_ROOT and cache; the host that trained is gone.
    shutil.rmtree(worker_a)
    worker_b = host("gpu-b")
    job = scoring.scoring_job_create(project=project, user=admin, reward_model_id=model.pk, batch_size=4)
    scored = scoring.scoring_job_execute(job_id=job.pk, worker="gpu-b")
    assert scored.status == RunStatus.SUCCEEDED, scored.error
    candidates = Candidate.objects.filter(prompt__project=project)
    assert (
        scored.scored == candidates.count() == CandidateScore.objects.filter(reward_model=model).count() == 12
    )
    located = registered_model_locate(model)
    assert Path(located.path).is_relative_to(worker_b / "cache")  # staged into this worker's cache
    assert not (worker_b / "media" / "runs").exists()
    from rewardtrain.training import load_reward_model, score_texts

    reward_model, tokenizer = load_reward_model(located.path)
    candidate = candidates.select_related("prompt").last()
    expected = score_texts(reward_model, tokenizer, [candidate.prompt.messages], [candidate.text])[0]
    assert CandidateScore.objects.get(candidate=candidate).score == pytest.approx(expected, abs=1e-5)

    # Staging from the store: a miss downloads and checks every file, a hit finds the folder in the cache.
    host("gpu-c")
    t0 = time.perf_counter()
    miss = model_stage(model.path)
    t1 = time.perf_counter()
    hit = model_stage(model.path)
    t2 = time.perf_counter()
    assert hit == miss and worker_cache().misses >= 1 and worker_cache().hits >= 1
    total = sum(f["size"] for f in manifest["files"])
    with capsys.disabled():
        print(
            f"\nmodel staging from the moto store ({len(names)} files, {total / 1e6:.2f} MB): "
            f"miss {1000 * (t1 - t0):.1f} ms, hit {1000 * (t2 - t1):.1f} ms"
        )

    # A stored file that is not what the manifest says is refused, not loaded.
    storage.put_bytes(f"runs/{project.pk}/{run.pk}/config.json", b"{}")
    host("gpu-d")
    with pytest.raises(CorruptArtifact):
        model_stage(model.path)


@pytest.mark.django_db
def test_run_references_keep_working_and_stay_inside_the_store(tmp_path):
    project, _ = ranking_project(1)
    old = RegisteredModel.objects.create(
        project=project, name="old", kind=ModelKind.RM, source=ModelSource.RUN, path=str(tmp_path)
    )
    assert registered_model_locate(old).path == str(tmp_path)  # a row from before models were stored
    for path in ("runs/../../etc/manifest.json", "runs/1/2/missing/manifest.json"):
        bad = RegisteredModel.objects.create(
            project=project, name=path, kind=ModelKind.RM, source=ModelSource.RUN, path=path
        )
        with pytest.raises(ValidationFailed) as caught:
            registered_model_locate(bad)
        assert caught.value.errors[0].field == "path"


class WorkerDied(BaseException):
    """The worker process vanishing mid-run: nothing in the run service catches it."""


@pytest.mark.slow
@pytest.mark.django_db
def test_run_taken_up_on_another_host_resumes_from_the_stored_checkpoint_to_the_same_weights(
    s3_storage, settings, host, setup, one_thread, monkeypatch
):
    project = setup[0]
    host("reference")
    reference = services.training_run_execute(run_id=_run(setup, **RESUME_PARAMS).pk, worker="reference")
    assert reference.status == RunStatus.SUCCEEDED, reference.error
    expected = _weights(registered_model_locate(RegisteredModel.objects.get(produced_by=reference)).path)

    worker_a = host("gpu-a")
    run = _run(setup, **RESUME_PARAMS)
    original = services._Recorder.__call__

    def dies_at_step_seven(self, event):
        original(self, event)
        if event.kind == "step" and event.step == 7:
            raise WorkerDied

    monkeypatch.setattr(services._Recorder, "__call__", dies_at_step_seven)
    with pytest.raises(WorkerDied):
        services.training_run_execute(run_id=run.pk, worker="gpu-a")
    monkeypatch.undo()
    prefix = f"runs/{project.pk}/{run.pk}/checkpoints"
    stored = _objects(s3_storage, settings, prefix)
    assert {key.split("/")[4] for key in stored} == {"step-00000005"}  # the one checkpoint written, complete
    manifest = json.loads(stored[f"{prefix}/step-00000005/manifest.json"])
    assert {"model.safetensors", "optimizer.pt", "trainer_state.json"} <= {
        f["name"] for f in manifest["files"]
    }

    # The host is gone with its files; the run's heartbeat goes stale and another host takes it up.
    shutil.rmtree(worker_a)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - HEARTBEAT_STALE)
    host("gpu-b")
    done = services.training_run_execute(run_id=run.pk, worker="gpu-b")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and done.step == RESUME_PARAMS["max_steps"]
    starts = list(
        RunMetric.objects.filter(run=run, kind="start").order_by("id").values_list("step", flat=True)
    )
    assert starts == [0, 5]  # the second attempt began at the stored checkpoint, not from scratch
    got = _weights(registered_model_locate(RegisteredModel.objects.get(produced_by=run)).path)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_torchrun_run_publishes_its_checkpoints_and_model_from_the_progress_it_streams(
    s3_storage, settings, host, setup
):
    project = setup[0]
    settings.ANNOTATE_WORKER_GPUS = 2
    host("gpu-a")
    run = _run(setup, gpus=2, max_steps=6, batch_size=1, lr=1e-3, bf16=False, save_every=2)
    done = services.training_run_execute(run_id=run.pk, worker="gpu-a")
    assert done.status == RunStatus.SUCCEEDED, done.error_detail
    stored = _objects(s3_storage, settings, f"runs/{project.pk}/{run.pk}")
    checkpoints = {key.split("/")[4] for key in stored if key.split("/")[3] == "checkpoints"}
    assert checkpoints == {
        "step-00000004"
    }  # the newest, complete; the older one dropped once it was replaced
    manifest = json.loads(stored[f"runs/{project.pk}/{run.pk}/checkpoints/step-00000004/manifest.json"])
    assert {"rng_rank0.pt", "rng_rank1.pt", "trainer_state.json"} <= {f["name"] for f in manifest["files"]}
    assert not Path(done.output_dir).exists()  # published, then gone from the GPU node's disk
    trained = {
        f"{name}:{key}": value
        for name in ("model.safetensors", "reward_head.safetensors")
        for key, value in safetensors_load(stored[f"runs/{project.pk}/{run.pk}/{name}"]).items()
    }
    host("gpu-b")
    staged = _weights(registered_model_locate(RegisteredModel.objects.get(produced_by=run)).path)
    assert staged.keys() == trained.keys() and all(torch.equal(staged[k], trained[k]) for k in trained)
