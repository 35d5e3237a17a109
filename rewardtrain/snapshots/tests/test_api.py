import hashlib

import pytest
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.services.tokens import api_token_create
from labeling.tests.factories import add_member, make_project, make_user
from rewardtrain.snapshots.models import Snapshot, SnapshotDownload, SnapshotStatus
from rewardtrain.tests.helpers import candidate_ids, rank, ranking_project

pytestmark = pytest.mark.django_db


def client_for(user=None, key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    elif user:
        client.force_authenticate(user)
    return client


@pytest.fixture
def world(eager_celery, django_capture_on_commit_callbacks):
    project, tasks = ranking_project(3)
    admin = project.created_by
    labeler = add_member(project, Role.LABELER)
    for task in tasks:
        rank(task, labeler, [[i] for i in candidate_ids(task)])
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            f"/api/projects/{project.pk}/snapshots/",
            {"kind": "pairwise", "format": "standard", "validation_fraction": 0},
            format="json",
        )
    assert created.status_code == 202, created.json()
    assert created.json()["status"] == "queued" and created.json()["version"] == 1
    return {
        "project": project,
        "admin": admin,
        "labeler": labeler,
        "reviewer": add_member(project, Role.REVIEWER),
        "snapshot_id": created.json()["id"],
        "base": f"/api/projects/{project.pk}/snapshots/",
    }


def test_admin_polls_lists_pages_and_downloads(world):
    client, base, sid = client_for(world["admin"]), world["base"], world["snapshot_id"]
    detail = client.get(f"{base}{sid}/").json()
    assert detail["status"] == "ready" and detail["counts"]["train"]["records"] == 18
    # validation_fraction 0: the empty validation split is not stored, nor offered (load_dataset fails on it).
    assert set(detail["manifest"]["files"]) == {"train.jsonl", "train.parquet"}
    assert detail["manifest"]["splits"]["validation"] == {"records": 0, "prompts": 0, "files": {}}
    assert detail["files"] == ["train.jsonl", "train.parquet", "manifest.json"]
    empty = client.get(f"{base}{sid}/records/?split=validation").json()
    assert empty["count"] == 0 and empty["results"] == [] and empty["next_offset"] is None
    assert client.get(f"{base}{sid}/files/validation.jsonl").status_code == 404
    assert [s["id"] for s in client.get(base).json()] == [sid]
    page = client.get(f"{base}{sid}/records/?split=train&offset=5&limit=10").json()
    assert page["count"] == 18 and len(page["results"]) == 10 and page["next_offset"] == 15
    assert set(page["results"][0]) >= {"prompt", "chosen", "rejected", "margin", "prompt_id"}
    last = client.get(f"{base}{sid}/records/?split=train&offset=15&limit=10").json()
    assert len(last["results"]) == 3 and last["next_offset"] is None
    assert client.get(f"{base}{sid}/records/?split=test").status_code == 400

    response = client.get(f"{base}{sid}/files/train.jsonl")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert response["X-Checksum-SHA256"] == hashlib.sha256(body).hexdigest()
    assert response["X-Checksum-SHA256"] == detail["manifest"]["files"]["train.jsonl"]["sha256"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert body.count(b"\n") == 18
    manifest = client.get(f"{base}{sid}/files/manifest.json")
    assert manifest.status_code == 200 and manifest["Content-Type"] == "application/json"
    assert b'"sha256"' in b"".join(manifest.streaming_content)
    assert client.get(f"{base}{sid}/files/secret.txt").status_code == 404
    assert client.get(f"{base}{sid}/files/..%2Fmanifest.json").status_code == 404

    log = SnapshotDownload.objects.order_by("id").first()
    assert (log.user, log.snapshot_id, log.file_name, log.token) == (world["admin"], sid, "train.jsonl", None)
    downloads = client.get(f"/api/projects/{world['project'].pk}/snapshot-downloads/").json()
    assert [(d["username"], d["file_name"]) for d in downloads] == [
        (world["admin"].username, "manifest.json"),
        (world["admin"].username, "train.jsonl"),
    ]


def test_scoped_token_reads_and_its_downloads_are_logged(world):
    base, sid = world["base"], world["snapshot_id"]
    engineer = add_member(world["project"], Role.REVIEWER)
    _, key = api_token_create(user=engineer, name="ml", project=world["project"])
    client = client_for(key=key)
    assert client.get(f"{base}{sid}/").status_code == 200
    response = client.get(f"{base}{sid}/files/train.parquet")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    log = SnapshotDownload.objects.get()
    assert log.user == engineer and log.token is not None and log.file_name == "train.parquet"
    # ...but the download log itself is for admins.
    assert client.get(f"/api/projects/{world['project'].pk}/snapshot-downloads/").status_code == 403
    # An admin's token scoped to another project does not reach this one.
    other = make_project(admin=world["admin"])
    _, other_key = api_token_create(user=world["admin"], name="other", project=other)
    assert client_for(key=other_key).get(f"{base}{sid}/").status_code == 404
    _, unscoped = api_token_create(user=world["admin"], name="all")
    assert client_for(key=unscoped).get(f"{base}{sid}/").status_code == 200


def test_labelers_reviewers_outsiders_and_anonymous_are_refused(world):
    base, sid = world["base"], world["snapshot_id"]
    urls = [base, f"{base}{sid}/", f"{base}{sid}/records/", f"{base}{sid}/files/train.jsonl"]
    for url in urls:
        assert client_for(world["labeler"]).get(url).status_code == 403
        assert client_for(world["reviewer"]).get(url).status_code == 403
        assert client_for(make_user()).get(url).status_code == 404
        assert client_for().get(url).status_code in (401, 403)
    # A labeler's own scoped token does not open exports.
    _, key = api_token_create(user=world["labeler"], name="mine", project=world["project"])
    assert client_for(key=key).get(f"{base}{sid}/files/train.jsonl").status_code == 403
    assert client_for(world["labeler"]).post(base, {"kind": "pairwise"}, format="json").status_code == 403
    assert not SnapshotDownload.objects.exists()


def test_bad_settings_and_unready_snapshots(world):
    client, base = client_for(world["admin"]), world["base"]
    response = client.post(base, {"kind": "pairwise", "format": "yaml"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "format"
    queued = client.post(base, {"kind": "sft"}, format="json").json()  # no on_commit here: stays queued
    assert queued["status"] == "queued" and queued["version"] == 2
    assert client.get(f"{base}{queued['id']}/files/train.jsonl").status_code == 409
    assert client.get(f"{base}{queued['id']}/records/").status_code == 409
    assert client.get(f"{base}999999/").status_code == 404


def test_an_older_snapshots_empty_validation_file_is_not_offered():
    """Built before empty splits were left out: its empty validation.jsonl is stored, listed, but not offered."""
    project = make_project()
    info = {"bytes": 0, "sha256": "0" * 64}
    Snapshot.objects.create(
        project=project,
        version=1,
        kind="pairwise",
        status=SnapshotStatus.READY,
        manifest={
            "splits": {"train": {"records": 2, "prompts": 1}, "validation": {"records": 0, "prompts": 0}},
            "files": dict.fromkeys(("train.jsonl", "validation.jsonl", "validation.parquet"), info),
        },
    )
    Snapshot.objects.create(project=project, version=2, kind="pairwise")  # queued: nothing to offer yet
    listed = client_for(project.created_by).get(f"/api/projects/{project.pk}/snapshots/").json()
    assert [s["files"] for s in listed] == [[], ["train.jsonl", "manifest.json"]]
