"""Review of dialogues: accept, reject (which reopens the task), permissions, and what SFT snapshots then hold."""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Dialogue, Review, ReviewStatus, Role, Task, TaskStatus
from labeling.tests.factories import add_member, make_project, new_client_id
from rewardtrain.snapshots.services import snapshot_build, snapshot_create, snapshot_dir

pytestmark = pytest.mark.django_db

CONVERSATION = [
    {"role": "user", "content": "Plan a day in Lisbon."},
    {"role": "assistant", "content": "Morning in Alfama, tram 28, then Belém."},
    {"role": "user", "content": "And dinner?"},
    {"role": "assistant", "content": "Bairro Alto: <b>book</b> ahead."},
]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    project = make_project(redundancy=1, dialogue_tasks_enabled=True)
    admin_client = client_for(project.memberships.get(role=Role.ADMIN).user)
    reviewer = client_for(add_member(project, Role.REVIEWER))
    labelers = [client_for(add_member(project, Role.LABELER)) for _ in range(2)]
    return project, admin_client, reviewer, labelers


def write_dialogues(project, admin_client, labeler_client, n: int) -> list[Dialogue]:
    got = admin_client.post(f"/api/projects/{project.pk}/dialogue-tasks/", {"count": n}, format="json")
    assert got.status_code == 201, got.content
    for i in range(n):
        assignment = labeler_client.post(f"/api/projects/{project.pk}/assignments/next/").json()
        messages = [*CONVERSATION[:-1], {"role": "assistant", "content": f"Answer {i}."}]
        body = {"client_id": new_client_id(), "messages": messages}
        submitted = labeler_client.post(f"/api/assignments/{assignment['id']}/submit/", body, format="json")
        assert submitted.status_code == 201, submitted.content
    return list(Dialogue.objects.order_by("id"))


def review(client, dialogue: Dialogue, decision: str, comment: str = ""):
    return client.post(
        f"/api/dialogues/{dialogue.pk}/review/", {"decision": decision, "comment": comment}, format="json"
    )


def test_accepting_a_dialogue_records_the_review_and_keeps_the_task_complete(world):
    project, admin_client, reviewer, (labeler, _) = world
    [dialogue] = write_dialogues(project, admin_client, labeler, 1)
    got = review(reviewer, dialogue, "accept")
    assert got.status_code == 201, got.content
    assert got.json()["dialogue"] == dialogue.pk and got.json()["demonstration"] is None
    dialogue.refresh_from_db()
    assert dialogue.review_status == ReviewStatus.ACCEPTED
    task = Task.objects.get(pk=dialogue.task_id)
    assert task.status == TaskStatus.COMPLETE and task.completed_count == 1
    assert Review.objects.get().dialogue_id == dialogue.pk and str(Review.objects.get()).endswith(
        f"dialogue {dialogue.pk}"
    )
    # The review queue lists it with its new status and the whole conversation.
    listed = reviewer.get(f"/api/projects/{project.pk}/dialogues/?review_status=accepted").json()
    items = listed["results"] if isinstance(listed, dict) else listed
    assert [d["id"] for d in items] == [dialogue.pk] and items[0]["messages"][0] == CONVERSATION[0]


def test_rejecting_needs_a_comment_and_reopens_the_task_for_another_labeler(world):
    project, admin_client, reviewer, (first, second) = world
    [dialogue] = write_dialogues(project, admin_client, first, 1)
    bare = review(reviewer, dialogue, "reject")
    assert bare.status_code == 400 and bare.json()["errors"][0]["field"] == "comment"
    bad = review(reviewer, dialogue, "maybe")
    assert bad.status_code == 400 and "decision" in json.dumps(bad.json())
    dialogue.refresh_from_db()
    assert dialogue.review_status == ReviewStatus.PENDING and not Review.objects.exists()
    assert review(reviewer, dialogue, "reject", "The second answer ignores the budget.").status_code == 201
    dialogue.refresh_from_db()
    task = Task.objects.get(pk=dialogue.task_id)
    assert dialogue.review_status == ReviewStatus.REJECTED
    assert task.status == TaskStatus.OPEN and task.completed_count == 0
    # The task is served again (to a labeler who has not done it), and its new dialogue completes it.
    assert first.post(f"/api/projects/{project.pk}/assignments/next/").status_code == 204
    again = second.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert again["task"]["id"] == task.pk
    body = {"client_id": new_client_id(), "messages": CONVERSATION}
    assert second.post(f"/api/assignments/{again['id']}/submit/", body, format="json").status_code == 201
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETE and task.completed_count == 1
    # Rejecting twice does not count down twice; accepting the rejected one counts it again.
    assert review(reviewer, dialogue, "reject", "Still no.").status_code == 201
    task.refresh_from_db()
    assert task.completed_count == 1
    assert review(reviewer, dialogue, "accept").status_code == 201
    task.refresh_from_db()
    assert task.completed_count == 2 and task.status == TaskStatus.COMPLETE


def test_only_reviewers_and_admins_of_the_project_review(world):
    project, admin_client, _reviewer, (labeler, _) = world
    [dialogue] = write_dialogues(project, admin_client, labeler, 1)
    assert review(labeler, dialogue, "accept").status_code == 403
    outsider = client_for(make_project().created_by)
    assert review(outsider, dialogue, "accept").status_code == 404
    assert review(APIClient(), dialogue, "accept").status_code in (401, 403)
    assert admin_client.post("/api/dialogues/999999/review/", {"decision": "accept"}).status_code == 404
    dialogue.refresh_from_db()
    assert dialogue.review_status == ReviewStatus.PENDING and not Review.objects.exists()
    assert review(admin_client, dialogue, "accept").status_code == 201


def test_accepted_only_sft_snapshots_hold_the_accepted_dialogues(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    project, admin_client, reviewer, (labeler, _) = world
    accepted, pending, rejected = write_dialogues(project, admin_client, labeler, 3)
    assert review(reviewer, accepted, "accept").status_code == 201
    assert review(reviewer, rejected, "reject", "Off topic.").status_code == 201

    def dialogue_ids(**extra) -> list[int]:
        data = {"kind": "sft", "validation_fraction": 0, **extra}
        snapshot = snapshot_build(
            snapshot_id=snapshot_create(project=project, user=None, settings_data=data).pk
        )
        assert snapshot.status == "ready", snapshot.error
        rows = [
            json.loads(line) for line in (snapshot_dir(snapshot) / "train.jsonl").read_text().splitlines()
        ]
        assert all(r["metadata"]["source"] == "dialogue" for r in rows)
        return [r["dialogue_id"] for r in rows]

    assert dialogue_ids(sft_statuses=["accepted"]) == [accepted.pk]
    assert dialogue_ids() == [accepted.pk, pending.pk]  # accepted and pending by default; rejected never
