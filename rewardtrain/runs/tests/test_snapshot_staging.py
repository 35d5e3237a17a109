"""A run trains on a local copy of its snapshot staged from the store into the worker's content-addressed cache:
downloaded once, checked against the manifest, found again without asking the store. The store is a moto S3
server, a separate process."""

import hashlib
import time
from pathlib import Path

import pytest
from django.conf import settings

from labeling.models import Role
from labeling.tests.factories import add_member, make_user
from rewardtrain import staging
from rewardtrain.runs import services
from rewardtrain.runs.models import ModelKind, RunMetric, RunStatus
from rewardtrain.runs.tests.roots import rooted
from rewardtrain.snapshots.models import SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_create
from rewardtrain.tests.helpers import both_splits_seed, candidate_ids, rank, ranking_project
from rewardtrain.training.tests.helpers import CORPUS
from rewardtrain.training.tiny import build_tiny_model_and_tokenizer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(s3_storage, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    admin = make_user(is_staff=True)
    project, tasks = ranking_project(8)
    labeler = add_member(project, Role.LABELER)
    for task in tasks:
        rank(task, labeler, [[i] for i in candidate_ids(task)])
    snapshot = snapshot_build(
        snapshot_id=snapshot_create(
            project=project,
            user=admin,
            settings_data={
                "kind": "kwise",
                "validation_fraction": 0.25,
                "seed": both_splits_seed(project, 0.25),  # an empty validation split would not be stored
            },
        ).pk
    )
    assert snapshot.status == SnapshotStatus.READY, snapshot.error
    build_tiny_model_and_tokenizer(tmp_path / "tiny", corpus=CORPUS)
    base = services.registered_model_create(
        project=project, user=admin, name="tiny", kind=ModelKind.BASE, **rooted(tmp_path / "tiny")
    )

    def new_run(**hyperparams):
        return services.training_run_create(
            project=project,
            user=admin,
            kind="rm",
            snapshot_id=snapshot.pk,
            base_model_id=base.pk,
            hyperparams={"batch_size": 2, "lr": 1e-3, **hyperparams},
        )

    return {"snapshot": snapshot, "new_run": new_run, "s3": s3_storage}


def _empty_the_bucket(s3) -> int:
    bucket = settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
    client = s3.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    for key in keys:
        client.delete_object(Bucket=bucket, Key=key)
    return len(keys)


def test_a_run_stages_its_snapshot_into_the_cache_once(world):
    snapshot, run = world["snapshot"], world["new_run"](max_steps=1)
    assert not settings.MEDIA_ROOT.exists()  # the snapshot is only in the bucket
    cache = staging.worker_cache()
    assert cache.root == settings.ANNOTATE_CACHE_DIR and (cache.hits, cache.misses) == (0, 0)

    started = time.perf_counter()
    data = Path(services._config(run).data)
    miss_s = time.perf_counter() - started
    assert data.parent == cache.root / "trees"
    names = {p.name for p in data.iterdir()}
    assert names == {"train.jsonl", "validation.jsonl"}  # what training reads; the Parquet copies stay stored
    for name in names:
        body = (data / name).read_bytes()
        assert hashlib.sha256(body).hexdigest() == snapshot.manifest["files"][name]["sha256"]
    misses = cache.misses
    assert misses == 3  # the folder and its two files

    # A second job on the same snapshot asks the store nothing: with the bucket emptied it still stages.
    assert _empty_the_bucket(world["s3"]) == 5
    started = time.perf_counter()
    again = Path(services._config(world["new_run"](max_steps=1)).data)
    hit_s = time.perf_counter() - started
    assert again == data and cache.hits == 1 and cache.misses == misses
    print(
        f"\nstaging snapshot v{snapshot.version} from S3: miss {miss_s * 1000:.1f} ms, hit {hit_s * 1000:.1f} ms"
    )


def test_a_corrupt_stored_file_is_refused_and_the_run_fails(world):
    from annotate import storage

    snapshot = world["snapshot"]
    storage.put_bytes(f"{snapshot.relative_dir}/train.jsonl", b'{"not": "what the manifest says"}\n')
    done = services.training_run_execute(run_id=world["new_run"](max_steps=1).pk, worker="test")
    assert done.status == RunStatus.FAILED
    assert "SHA-256" in done.error and "\n" not in done.error
    assert not any(staging.worker_cache().root.joinpath("files").rglob("*"))  # nothing corrupt kept


def test_an_rm_run_trains_from_a_snapshot_in_s3(world):
    run = world["new_run"](max_steps=2)
    done = services.training_run_execute(run_id=run.pk, worker="test")
    assert done.status == RunStatus.SUCCEEDED, done.error
    assert done.step == 2 and RunMetric.objects.filter(run=run, kind="step").count() == 2
    assert "val_accuracy" in done.final_metrics or "val_loss" in done.final_metrics
    assert staging.worker_cache().misses == 3
