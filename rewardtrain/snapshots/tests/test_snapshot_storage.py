"""Snapshot files go through the storage layer: built into the store, downloaded from it (a presigned redirect on
S3, streamed on the local filesystem), paged from it. The S3 store is a moto server, a separate process."""

import hashlib
import json

import pytest
import requests
from django.conf import settings
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.tests.factories import add_member
from rewardtrain.snapshots.models import SnapshotDownload, SnapshotStatus
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir
from rewardtrain.tests.helpers import both_splits_seed, candidate_ids, rank, ranking_project

pytestmark = pytest.mark.django_db

FILES = {"train.jsonl", "train.parquet", "validation.jsonl", "validation.parquet", "manifest.json"}


def _bucket_objects(s3_server) -> dict[str, bytes]:
    options = settings.STORAGES["default"]["OPTIONS"]
    client = s3_server.client()
    listed = client.list_objects_v2(Bucket=options["bucket_name"]).get("Contents", [])
    return {
        o["Key"]: client.get_object(Bucket=options["bucket_name"], Key=o["Key"])["Body"].read()
        for o in listed
    }


def _both_splits(project) -> dict:
    """Pairwise settings whose seed puts prompts in both splits: an empty split would not be stored."""
    return {"kind": "pairwise", "validation_fraction": 0.3, "seed": both_splits_seed(project, 0.3)}


@pytest.fixture(params=["local", "s3"])
def store(request):
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


@pytest.fixture
def built(store, media_root):
    project, tasks = ranking_project(6)
    labeler = add_member(project, Role.LABELER)
    for task in tasks:
        rank(task, labeler, [[i] for i in candidate_ids(task)])
    created = snapshot_create(project=project, user=None, settings_data=_both_splits(project))
    snapshot = snapshot_build(snapshot_id=created.pk)
    assert snapshot.status == SnapshotStatus.READY, snapshot.error
    return snapshot


def _client(snapshot) -> APIClient:
    client = APIClient()
    client.force_authenticate(snapshot.project.created_by)
    return client


def _url(snapshot, tail: str) -> str:
    return f"/api/projects/{snapshot.project_id}/snapshots/{snapshot.pk}/{tail}"


@pytest.mark.parametrize("store", ["s3"], indirect=True)
def test_a_snapshot_built_on_s3_is_objects_in_the_bucket_and_nothing_on_disk(built, s3_storage, media_root):
    objects = _bucket_objects(s3_storage)
    prefix = f"annotate/{built.relative_dir}/"
    assert set(objects) == {prefix + name for name in FILES}
    for name, info in built.manifest["files"].items():
        body = objects[prefix + name]
        assert (len(body), hashlib.sha256(body).hexdigest()) == (info["bytes"], info["sha256"])
    stored_manifest = json.loads(objects[prefix + "manifest.json"])
    assert stored_manifest["files"] == built.manifest["files"]
    assert stored_manifest["records"] == built.manifest["records"] > 0
    assert not media_root.exists() or not any(media_root.rglob("*"))


@pytest.mark.parametrize("store", ["s3"], indirect=True)
def test_a_rebuild_on_s3_stores_the_same_bytes_and_a_failed_one_leaves_no_objects(
    built, s3_storage, monkeypatch
):
    from rewardtrain.snapshots import services as snapshots

    again = snapshot_build(
        snapshot_id=snapshot_create(
            project=built.project, user=None, settings_data=_both_splits(built.project)
        ).pk
    )
    objects = _bucket_objects(s3_storage)
    for name in built.manifest["files"]:
        assert (
            objects[f"annotate/{again.relative_dir}/{name}"]
            == objects[f"annotate/{built.relative_dir}/{name}"]
        )

    stored = list(objects)
    real_put = snapshots.storage.put_file

    def put_then_fail(key, path):
        if key.endswith("validation.jsonl"):
            raise OSError("the store went away")
        return real_put(key, path)

    monkeypatch.setattr(snapshots.storage, "put_file", put_then_fail)
    failed = snapshot_build(
        snapshot_id=snapshot_create(
            project=built.project, user=None, settings_data=_both_splits(built.project)
        ).pk
    )
    assert failed.status == SnapshotStatus.FAILED and "the store went away" in failed.error
    assert sorted(_bucket_objects(s3_storage)) == sorted(stored)  # train.* stored before the failure are gone


def test_downloads_come_from_the_store_with_the_manifest_checksum(built, store):
    client = _client(built)
    for name, info in built.manifest["files"].items():
        response = client.get(_url(built, f"files/{name}"))
        assert response["X-Checksum-SHA256"] == info["sha256"]
        filename = f"{built.project.slug}-v{built.version}-{name}"
        if store == "local":
            assert response.status_code == 200
            body = b"".join(response.streaming_content)
            assert body == (snapshot_dir(built) / name).read_bytes()
            assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
        else:
            # The client is sent to the store: the web server never carries the bytes.
            assert response.status_code == 302
            location = response["Location"]
            assert ("Signature=" in location) and ("Expires=" in location or "X-Amz-Expires=" in location)
            fetched = requests.get(location, timeout=10)
            assert fetched.status_code == 200
            body = fetched.content
            assert fetched.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
            expected_type = "application/x-ndjson" if name.endswith(".jsonl") else "application/octet-stream"
            assert fetched.headers["Content-Type"] == expected_type
        assert (len(body), hashlib.sha256(body).hexdigest()) == (info["bytes"], info["sha256"])

    manifest = client.get(_url(built, "files/manifest.json"))
    body = (
        requests.get(manifest["Location"], timeout=10).content
        if store == "s3"
        else b"".join(manifest.streaming_content)
    )
    assert hashlib.sha256(body).hexdigest() == manifest["X-Checksum-SHA256"]
    assert json.loads(body)["files"] == built.manifest["files"]
    # Every download is logged, redirected or streamed.
    assert SnapshotDownload.objects.filter(snapshot=built).count() == len(FILES)
    assert client.get(_url(built, "files/secret.txt")).status_code == 404


def test_a_store_clients_cannot_reach_is_streamed_through_the_web_server(built, store, settings):
    """ANNOTATE_STORAGE_REDIRECT=false (an S3 store on a private network, as in docker-compose.yml)."""
    settings.ANNOTATE_STORAGE_REDIRECT = False
    name, info = next(iter(built.manifest["files"].items()))
    response = _client(built).get(_url(built, f"files/{name}"))
    assert response.status_code == 200 and response["X-Checksum-SHA256"] == info["sha256"]
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == info["sha256"]


def test_records_are_paged_from_the_store_and_missing_files_are_gone(built, store):
    client = _client(built)
    count = built.manifest["splits"]["train"]["records"]
    page = client.get(_url(built, "records/?split=train&offset=1&limit=3")).json()
    assert page["count"] == count and len(page["results"]) == 3
    assert set(page["results"][0]) >= {"prompt", "chosen", "rejected"}
    everything = client.get(_url(built, f"records/?split=train&limit={count}")).json()["results"]
    assert everything[1:4] == page["results"]

    from annotate import storage

    storage.delete(f"{built.relative_dir}/train.jsonl")
    gone = client.get(_url(built, "records/?split=train"))
    assert gone.status_code == 410 and gone.json()["code"] == "gone"
    assert client.get(_url(built, "files/train.jsonl")).status_code == 410


@pytest.mark.parametrize("store", ["local"], indirect=True)
def test_a_build_failing_midway_on_the_local_store_leaves_no_folder(built, monkeypatch):
    from rewardtrain.snapshots import services as snapshots

    real_put = snapshots.storage.put_file

    def put_then_fail(key, path):
        if key.endswith("validation.jsonl"):
            raise OSError("disk full")
        return real_put(key, path)

    monkeypatch.setattr(snapshots.storage, "put_file", put_then_fail)
    failed = snapshot_build(
        snapshot_id=snapshot_create(
            project=built.project, user=None, settings_data=_both_splits(built.project)
        ).pk
    )
    assert failed.status == SnapshotStatus.FAILED and "disk full" in failed.error
    assert not snapshot_dir(failed).exists()
    assert sorted(p.name for p in snapshot_dir(failed).parent.iterdir()) == [str(built.version)]
