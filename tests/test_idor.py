"""Guessing ids, blind ranking and list filters.

- A labeler sees only their own assignments: another labeler's ids, in the same project, answer 404 on every
  assignment route and change nothing.
- An admin of project B who puts project A's object ids under B's URLs gets 404 and changes nothing.
- What a labeler sees of a ranking task is blind: no model name, sampling settings, candidate source, reward
  score, nor anybody else's annotation.
- List endpoints filter by allow-listed fields only: other query parameters (`user__password`, …) are ignored,
  and a value an allowed field cannot hold is a 400 naming the filter, never a 500.
"""

import json

import pytest
from rest_framework.test import APIClient

from labeling.models import Assignment, Draft, Membership, Ranking, Role
from labeling.services.assignment import assignment_claim_next
from labeling.services.drafts import draft_save
from labeling.services.imports import import_file
from labeling.services.submission import assignment_submit
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, make_user, new_client_id
from rewardtrain.runs.models import CandidateScore, RegisteredModel, RunStatus, ScoringJob, TrainingRun
from rewardtrain.tests.helpers import candidate_ids, rank

pytestmark = pytest.mark.django_db

SECRET_MODEL = "secret-policy-7b-v3"


def demonstration_lease(user, project) -> Assignment:
    """Lease tasks until a demonstration comes up, ranking the ranking tasks on the way."""
    for _ in range(10):
        lease = assignment_claim_next(user=user, project=project)
        if lease.task.kind == "demonstration":
            return lease
        tiers = [[i] for i in candidate_ids(lease.task)]
        assignment_submit(user=user, assignment_id=lease.pk, client_id=new_client_id(), tiers=tiers)
    raise AssertionError("no demonstration task")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    admin = make_user(is_staff=True)
    project = make_project(admin=admin, redundancy=2)
    answers = [
        {"text": f"Answer {i}.", "model": SECRET_MODEL, "sampling": {"temperature": 0.7}} for i in range(4)
    ]
    item = {"external_id": "q1", "prompt": "Which is best?", "answers": answers}
    import_file(project=project, user=admin, data=json.dumps(item).encode(), kind="ranking_items")
    import_prompt_tasks(project, 1)
    ann = add_member(project, Role.LABELER)
    bob = add_member(project, Role.LABELER)
    rm = RegisteredModel.objects.create(project=project, name="rm-secret", kind="rm", path="org/rm")
    task = project.tasks.get(kind="ranking")
    for candidate_id in candidate_ids(task):
        CandidateScore.objects.create(candidate_id=candidate_id, reward_model=rm, score=0.123456)
    return {"admin": admin, "project": project, "ann": ann, "bob": bob, "rm": rm}


def test_ranking_is_blind(world):
    project, ann, bob = world["project"], world["ann"], world["bob"]
    # Bob ranks first, so Ann's task has another labeler's ranking she must not see.
    lease = assignment_claim_next(user=bob, project=project)
    ids = candidate_ids(lease.task)
    assignment_submit(user=bob, assignment_id=lease.pk, client_id=new_client_id(), tiers=[[i] for i in ids])

    client = client_for(ann)
    seen = []
    work = client.post(f"/api/projects/{project.pk}/assignments/next/")
    assert work.status_code == 200 and work.json()["task"]["kind"] == "ranking"
    seen.append(work.content)
    candidates = work.json()["task"]["candidates"]
    assert [set(c) for c in candidates] == [{"id", "text", "truncated"}] * 4
    assignment_id = work.json()["id"]
    seen.append(client.get(f"/api/assignments/{assignment_id}/").content)
    seen.append(client.get("/api/assignments/").content)
    submitted = client.post(
        f"/api/assignments/{assignment_id}/submit/",
        {
            "client_id": new_client_id(),
            "tiers": [[c["id"]] for c in reversed(candidates)],
            "seconds_spent": 4,
        },
        format="json",
    )
    assert submitted.status_code == 201
    seen.append(submitted.content)
    seen.append(client.get(f"/api/assignments/{assignment_id}/annotation/").content)
    seen.append(client.get(f"/api/projects/{project.pk}/my-stats/").content)
    seen.append(client.get("/api/auth/me").content)
    for body in seen:
        text = body.decode()
        for secret in (
            SECRET_MODEL,
            "temperature",
            "sampling",
            "0.123456",
            "rm-secret",
            bob.username,
            '"source"',
        ):
            assert secret not in text, f"{secret!r} leaked to a labeler: {text[:300]}"
    # Bob's ranking is not readable by Ann by any id.
    bobs = Ranking.objects.get(user=bob)
    assert client.get(f"/api/assignments/{bobs.assignment_id}/annotation/").status_code == 404
    for listing in ("rankings", "scores", "tasks", "prompts", "demonstrations", "agreement"):
        assert client.get(f"/api/projects/{project.pk}/{listing}/").status_code == 403, listing


def test_another_labelers_assignment_is_unknown(world):
    project, ann, bob = world["project"], world["ann"], world["bob"]
    lease = demonstration_lease(ann, project)
    draft_save(user=ann, assignment=lease, payload={"text": "Ann's draft"})
    client = client_for(bob)
    base = f"/api/assignments/{lease.pk}"
    body = {"client_id": new_client_id(), "text": "Bob's text", "seconds_spent": 1}
    calls = [
        ("get", f"{base}/", None),
        ("get", f"{base}/draft/", None),
        ("put", f"{base}/draft/", {"payload": {"text": "overwritten"}}),
        ("get", f"{base}/annotation/", None),
        ("post", f"{base}/submit/", body),
        ("post", f"{base}/revise/", body),
        ("post", f"{base}/skip/", {"reason": "not mine"}),
        ("get", f"{base}/suggestion/", None),
        ("post", f"{base}/suggestion/", None),
    ]
    for method, url, data in calls:
        response = getattr(client, method)(url, data, format="json") if data else getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    assert Draft.objects.get(assignment=lease).payload == {"text": "Ann's draft"}
    assert Assignment.objects.get(pk=lease.pk).status == lease.status
    assert not Assignment.objects.filter(pk=lease.pk).exclude(user=ann).exists()
    # Listing never shows Ann's assignment to Bob.
    assert lease.pk not in [a["id"] for a in client.get("/api/assignments/").json()["results"]]


def test_other_projects_ids_under_my_project_are_unknown(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from rewardtrain.params import snapshot_params_from
    from rewardtrain.snapshots.models import Snapshot
    from rewardtrain.snapshots.services import snapshot_build

    project_a, admin_a = world["project"], world["admin"]
    task = project_a.tasks.get(kind="ranking")
    rank(task, world["ann"], [[i] for i in candidate_ids(task)])
    snapshot = Snapshot.objects.create(
        project=project_a,
        version=1,
        kind="pairwise",
        params=snapshot_params_from({"kind": "pairwise", "validation_fraction": 0}).as_dict(),
    )
    snapshot_build(snapshot_id=snapshot.pk)
    base = RegisteredModel.objects.create(project=project_a, name="base", kind="base", path="org/base")
    run = TrainingRun.objects.create(project=project_a, kind="rm", snapshot=snapshot, base_model=base)
    job = ScoringJob.objects.create(project=project_a, reward_model=world["rm"])
    membership = Membership.objects.get(project=project_a, user=world["ann"])

    admin_b = make_user()
    project_b = make_project(admin=admin_b)
    client = client_for(admin_b)
    pb = f"/api/projects/{project_b.pk}"
    for method, url in [
        ("get", f"{pb}/snapshots/{snapshot.pk}/"),
        ("get", f"{pb}/snapshots/{snapshot.pk}/records/"),
        ("get", f"{pb}/snapshots/{snapshot.pk}/files/train.jsonl"),
        ("get", f"{pb}/runs/{run.pk}/"),
        ("get", f"{pb}/runs/{run.pk}/lineage/"),
        ("post", f"{pb}/runs/{run.pk}/cancel/"),
        ("get", f"{pb}/scoring-jobs/{job.pk}/"),
        ("post", f"{pb}/scoring-jobs/{job.pk}/cancel/"),
        ("patch", f"{pb}/members/{membership.pk}/"),
        ("delete", f"{pb}/members/{membership.pk}/"),
    ]:
        data = {"role": "admin"} if method == "patch" else None
        response = getattr(client, method)(url, data, format="json") if data else getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    # Nothing changed: A's run and job still queued, Ann still a labeler of A, no download logged.
    assert TrainingRun.objects.get(pk=run.pk).status == RunStatus.QUEUED
    assert ScoringJob.objects.get(pk=job.pk).cancel_requested is False
    assert Membership.objects.get(pk=membership.pk).role == Role.LABELER
    assert not snapshot.downloads.exists()
    # A review of A's demonstration by B's admin: unknown too.
    lease = demonstration_lease(world["bob"], project_a)
    demo = assignment_submit(user=world["bob"], assignment_id=lease.pk, client_id=new_client_id(), text="x")
    review = client.post(
        f"/api/demonstrations/{demo.annotation.pk}/review/", {"decision": "accept"}, format="json"
    )
    assert review.status_code == 404
    assert (
        client_for(admin_a).get(f"/api/projects/{project_a.pk}/snapshots/{snapshot.pk}/").status_code == 200
    )


HOSTILE_PARAMS = {
    "user__password__startswith": "md5",
    "user__password": "x",
    "created_by__email__contains": "@",
    "user__is_superuser": "true",
    "task__project": "999",
    "project": "999",
    "messages__icontains": "secret",
    "ordering": "-user__password",
    "search": "admin",
}


def test_list_filters_are_allow_listed(world):
    project, admin, ann = world["project"], world["admin"], world["ann"]
    task = project.tasks.get(kind="ranking")
    rank(task, ann, [[i] for i in candidate_ids(task)])
    other = make_project()
    import_prompt_tasks(other, 2)
    client = client_for(admin)
    lists = {name: {} for name in ("prompts", "tasks", "rankings", "demonstrations", "dialogues", "audit")}
    lists["scores"] = {"reward_model": world["rm"].pk}
    for name, required in lists.items():
        url = f"/api/projects/{project.pk}/{name}/"
        plain = client.get(url, required)
        assert plain.status_code == 200, (name, plain.status_code)
        assert plain.json(), name
        for param, value in HOSTILE_PARAMS.items():
            probed = client.get(url, {**required, param: value})
            assert probed.status_code == 200, (name, param, probed.status_code)
            assert probed.json() == plain.json(), f"?{param}= changed the results of {name}"
    # An allowed filter filters; a value it cannot hold is a clear 400, never a 500.
    rankings = f"/api/projects/{project.pk}/rankings/"
    assert client.get(rankings, {"user": ann.pk}).json()["count"] == 1
    assert client.get(rankings, {"user": world["bob"].pk}).json()["count"] == 0
    for url, param, value in [
        (rankings, "user", "x"),
        (rankings, "task", "1 OR 1=1"),
        (f"/api/projects/{project.pk}/tasks/", "is_gold", "maybe"),
        (f"/api/projects/{project.pk}/tasks/", "status", "open\x00"),
        (f"/api/projects/{project.pk}/demonstrations/", "user", "-1'"),
        ("/api/assignments/", "status", "leased\x00"),
    ]:
        response = client.get(url, {param: value})
        assert response.status_code == 400, (url, param, response.status_code)
        assert response.json()["errors"][0]["field"] == param
    assert client.get(f"/api/projects/{project.pk}/audit/", {"action": "x"}).status_code == 400
