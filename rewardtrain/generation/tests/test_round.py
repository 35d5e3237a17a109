"""One whole round of the loop through the API, as the README walks it: prompts -> demonstrations -> SFT snapshot
-> SFT run -> generation job -> rankings -> pairwise snapshot -> RM and DPO runs -> scores -> agreement, rounds.

Celery runs eagerly here (every job the API queues on commit runs at once, through its real task), on a tiny
model built from a config."""

import io
import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Role
from labeling.services.tokens import api_token_create
from labeling.tests.factories import add_member, make_project, make_user, new_client_id
from rewardtrain.runs.models import CandidateScore, ModelKind
from rewardtrain.runs.tests.roots import rooted

pytestmark = pytest.mark.django_db

FAST = {"max_steps": 2, "batch_size": 2, "max_length": 64}


class Api:
    def __init__(self, user, project, capture):
        self.client = APIClient()
        key = api_token_create(user=user, name="round", project=project)[1]
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        self.base = f"/api/projects/{project.pk}"
        self.capture = capture

    def post(self, path: str, body=None, status: int | tuple = (200, 201, 202), **kwargs):
        url = path if path.startswith("/api/") else self.base + path
        with self.capture(execute=True):  # on commit: the queued job runs (Celery is eager)
            answer = self.client.post(url, body, **({"format": "json"} | kwargs))
        statuses = status if isinstance(status, tuple) else (status,)
        assert answer.status_code in statuses, (url, answer.status_code, answer.content[:2000])
        return answer.json() if answer.content else None

    def get(self, path: str):
        answer = self.client.get(path if path.startswith("/api/") else self.base + path)
        assert answer.status_code == 200, (path, answer.content[:2000])
        return answer.json()


def _work(labeler: Api, project_id: int, submit) -> int:
    """The labeler takes every task offered and submits it; returns how many."""
    done = 0
    while True:
        with labeler.capture(execute=True):
            lease = labeler.client.post(f"/api/projects/{project_id}/assignments/next/")
        if lease.status_code == 204:
            return done
        body = submit(lease.json())
        labeler.post(f"/api/assignments/{lease.json()['id']}/submit/", body, status=201)
        done += 1


def test_one_round_of_the_loop_through_the_api(tiny_dir, eager_celery, django_capture_on_commit_callbacks):
    owner = make_user(is_staff=True)
    project = make_project(admin=owner, k_answers=4, redundancy=1)
    labeler_user = add_member(project, Role.LABELER)
    admin = Api(owner, project, django_capture_on_commit_callbacks)
    labeler = Api(labeler_user, project, django_capture_on_commit_callbacks)

    base = admin.post("/models/", {"name": "tiny", "kind": "base", **rooted(tiny_dir)})
    prompts = "\n".join(
        json.dumps({"external_id": f"q{i}", "prompt": f"count {i} apple"}) for i in range(6)
    ).encode()
    upload = io.BytesIO(prompts)
    upload.name = "prompts.jsonl"
    admin.post("/imports/", {"kind": "prompts", "format": "jsonl", "file": upload}, format="multipart")

    # Demonstrations, reviewed.
    written = _work(labeler, project.pk, lambda lease: {"client_id": new_client_id(), "text": "one apple"})
    assert written == 6
    for demo in admin.get("/demonstrations/")["results"]:
        admin.post(f"/api/demonstrations/{demo['id']}/review/", {"decision": "accept"})

    # SFT snapshot -> SFT run -> the SFT model.
    sft_snapshot = admin.post("/snapshots/", {"kind": "sft", "sft_statuses": ["accepted"]})
    assert admin.get(f"/snapshots/{sft_snapshot['id']}/")["status"] == "ready"
    run = admin.post(
        "/runs/",
        {"kind": "sft", "snapshot": sft_snapshot["id"], "base_model": base["id"], "hyperparams": FAST},
    )
    assert admin.get(f"/runs/{run['id']}/")["status"] == "succeeded"
    sft = admin.get(f"/runs/{run['id']}/lineage/")["model"]

    # Sampling K answers per prompt opens the ranking tasks; the labeler ranks them.
    job = admin.post(
        "/generation-jobs/",
        {
            "model": sft["id"],
            "prompts": "no_ranking_task",
            "settings": {"k": 4, "max_new_tokens": 6, "seed": 3},
        },
    )
    job = admin.get(f"/generation-jobs/{job['id']}/")
    assert job["status"] == "succeeded" and job["prompts_done"] == 6

    def rank(lease):
        ids = [c["id"] for c in lease["task"]["candidates"]]
        return {"client_id": new_client_id(), "tiers": [[i] for i in sorted(ids)]}

    assert _work(labeler, project.pk, rank) == 6

    # Pairwise snapshot -> reward model and DPO policy, both from the SFT model.
    pairs = admin.post("/snapshots/", {"kind": "pairwise", "validation_fraction": 0.3})
    assert admin.get(f"/snapshots/{pairs['id']}/")["status"] == "ready"
    models = {}
    for kind in ("rm", "dpo"):
        run = admin.post(
            "/runs/", {"kind": kind, "snapshot": pairs["id"], "base_model": sft["id"], "hyperparams": FAST}
        )
        assert admin.get(f"/runs/{run['id']}/")["status"] == "succeeded", admin.get(f"/runs/{run['id']}/")[
            "error"
        ]
        models[kind] = admin.get(f"/runs/{run['id']}/lineage/")["model"]
    kinds = {m["id"]: m["kind"] for m in admin.get("/models/")}
    assert kinds[models["rm"]["id"]] == ModelKind.RM and kinds[models["dpo"]["id"]] == ModelKind.POLICY

    # Scores for every candidate, the reward model's agreement, and the round on the timeline.
    admin.post("/scoring-jobs/", {"reward_model": models["rm"]["id"]})
    assert CandidateScore.objects.filter(reward_model_id=models["rm"]["id"]).count() == 24
    assert admin.get("/rm-agreement/") is not None
    rounds = admin.get("/rounds/")
    rounds = rounds["rounds"] if isinstance(rounds, dict) else rounds
    assert len(rounds) == 1, rounds
    (round_1,) = rounds
    assert round_1["sampling"]["model"]["id"] == sft["id"]
    assert round_1["sampling"]["snapshot"]["id"] == sft_snapshot["id"]
    assert round_1["generation_job"]["id"] == job["id"]
    assert (round_1["tasks"], round_1["ranked_tasks"], round_1["rankings"]) == (6, 6, 6)
    trained = {r["kind"] for snap in round_1["snapshots"] if snap["id"] == pairs["id"] for r in snap["runs"]}
    assert trained == {"rm", "dpo"}
    # Every admin action of the round is on the project's audit trail.
    actions = {event["action"] for event in admin.get("/audit/?page_size=200")["results"]}
    assert {
        "import",
        "review",
        "snapshot.create",
        "run.create",
        "generation.create",
        "scoring.create",
    } <= actions
