"""Drafts, the labeler's own figures, and the SPA view that serves the browser app."""

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from labeling.models import AnnotationRevision, Candidate, Draft, Ranking, Role
from labeling.services.blind import internal_ids
from labeling.tests.factories import (
    add_member,
    import_prompt_tasks,
    import_ranking_tasks,
    make_project,
    make_user,
    new_client_id,
)

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def leased():
    project = make_project()
    import_prompt_tasks(project, 2)
    labeler = add_member(project, Role.LABELER)
    client = client_for(labeler)
    assignment = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    return project, labeler, client, assignment["id"]


def test_draft_round_trip_for_the_assignee(leased):
    _project, labeler, client, aid = leased
    assert client.get(f"/api/assignments/{aid}/draft/").status_code == 404
    put = client.put(f"/api/assignments/{aid}/draft/", {"payload": {"text": "half an answer"}}, format="json")
    assert put.status_code == 200, put.json()
    client.put(f"/api/assignments/{aid}/draft/", {"payload": {"text": "more of it"}}, format="json")
    got = client.get(f"/api/assignments/{aid}/draft/").json()
    assert got["payload"] == {"text": "more of it"}
    assert Draft.objects.get().user == labeler  # replaced, not duplicated


def test_draft_is_dropped_when_the_work_is_submitted(leased):
    _project, _labeler, client, aid = leased
    client.put(f"/api/assignments/{aid}/draft/", {"payload": {"text": "An answer."}}, format="json")
    body = {"client_id": new_client_id(), "text": "An answer."}
    assert client.post(f"/api/assignments/{aid}/submit/", body, format="json").status_code == 201
    assert not Draft.objects.exists()


def test_draft_refused_to_anyone_else(leased):
    project, _labeler, client, aid = leased
    client.put(f"/api/assignments/{aid}/draft/", {"payload": {"text": "mine"}}, format="json")
    other_member = client_for(add_member(project, Role.ADMIN))
    assert other_member.get(f"/api/assignments/{aid}/draft/").status_code == 404
    put = other_member.put(f"/api/assignments/{aid}/draft/", {"payload": {"text": "x"}}, format="json")
    assert put.status_code == 404
    assert APIClient().get(f"/api/assignments/{aid}/draft/").status_code in (401, 403)
    assert Draft.objects.get().payload == {"text": "mine"}


def test_draft_must_be_an_object(leased):
    _project, _labeler, client, aid = leased
    response = client.put(f"/api/assignments/{aid}/draft/", {"payload": [1, 2]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "payload"


def test_my_stats_counts_today_and_median(leased):
    project, _labeler, client, aid = leased
    body = {"client_id": new_client_id(), "text": "An answer.", "seconds_spent": 30}
    assert client.post(f"/api/assignments/{aid}/submit/", body, format="json").status_code == 201
    stats = client.get(f"/api/projects/{project.pk}/my-stats/").json()
    assert stats == {
        "submitted_today": 1,
        "skipped_today": 0,
        "submitted_total": 1,
        "median_seconds": 30.0,
        "tasks_left": 1,
        "tasks_total": 2,
    }


def test_my_stats_counts_tasks_left_for_this_labeler(leased):
    """Left: open tasks this labeler has not submitted or skipped, of the kinds served now; the one in hand
    counts. Another labeler's work does not change it; a disabled kind is left out of both counts."""
    from labeling.models import Task, TaskKind

    project, _labeler, client, aid = leased
    import_ranking_tasks(project, 2)
    url = f"/api/projects/{project.pk}/my-stats/"
    assert _progress(client.get(url).json()) == (4, 4)
    assert (
        client.post(f"/api/assignments/{aid}/skip/", {"reason": "not my topic"}, format="json").status_code
        == 200
    )
    assert _progress(client.get(url).json()) == (3, 4)
    other = client_for(add_member(project, Role.LABELER))
    other_lease = other.post(f"/api/projects/{project.pk}/assignments/next/").json()
    other.post(f"/api/assignments/{other_lease['id']}/skip/", {"reason": "no"}, format="json")
    assert _progress(client.get(url).json()) == (3, 4)
    Task.objects.filter(project=project, kind=TaskKind.RANKING).update(kind=TaskKind.DIALOGUE)
    project.dialogue_tasks_enabled = False
    project.save(update_fields=["dialogue_tasks_enabled"])
    assert _progress(client.get(url).json()) == (1, 2)


def _progress(stats: dict) -> tuple[int, int]:
    return stats["tasks_left"], stats["tasks_total"]


def test_my_stats_refused_to_non_members(leased):
    project, *_ = leased
    assert client_for(make_user()).get(f"/api/projects/{project.pk}/my-stats/").status_code == 404
    assert APIClient().get(f"/api/projects/{project.pk}/my-stats/").status_code in (401, 403)


def test_spa_served_for_client_routes_but_not_api(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    with override_settings(FRONTEND_DIST=tmp_path):
        client = Client()
        for path in ("/", "/projects/1/work", "/history"):
            response = client.get(path)
            assert response.status_code == 200 and b"id=root" in response.content, path
        assert client.get("/api/nope").status_code == 404
        assert client.get("/healthz").status_code == 200
        assert b"id=root" not in client.get("/admin/").content


def test_spa_explains_a_missing_build(tmp_path):
    with override_settings(FRONTEND_DIST=tmp_path / "missing"):
        response = Client().get("/")
    assert response.status_code == 503 and b"make frontend" in response.content


def test_dashboard_for_admins_only(leased):
    project, labeler, client, aid = leased
    body = {"client_id": new_client_id(), "text": "An answer.", "seconds_spent": 40}
    client.post(f"/api/assignments/{aid}/submit/", body, format="json")
    next_id = client.post(f"/api/projects/{project.pk}/assignments/next/").json()["id"]
    client.post(f"/api/assignments/{next_id}/skip/", {"reason": "not my field"}, format="json")
    admin = client_for(add_member(project, Role.ADMIN))
    data = admin.get(f"/api/projects/{project.pk}/dashboard/?hours=3").json()
    assert data["tasks_by_status"]["complete"] == 1
    assert len(data["annotations_per_hour"]) == 3 and data["annotations_per_hour"][-1]["count"] == 1
    assert data["pending_reviews"] == 1
    (row,) = data["labelers"]
    assert row["username"] == labeler.username
    assert (row["submitted"], row["skipped"], row["median_seconds"], row["skip_rate"]) == (1, 1, 40.0, 0.5)
    assert client.get(f"/api/projects/{project.pk}/dashboard/").status_code == 403
    assert (
        client_for(add_member(project, Role.REVIEWER))
        .get(f"/api/projects/{project.pk}/dashboard/")
        .status_code
        == 403
    )
    assert client_for(make_user()).get(f"/api/projects/{project.pk}/dashboard/").status_code == 404


def test_revise_a_ranking_while_the_task_is_open_keeps_the_earlier_version():
    project = make_project(redundancy=2)
    import_ranking_tasks(project, 1)
    labeler, other = add_member(project, Role.LABELER), add_member(project, Role.LABELER)
    client = client_for(labeler)
    body = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    aid, ids = body["id"], [c["id"] for c in body["task"]["candidates"]]
    first = {"client_id": new_client_id(), "tiers": [[i] for i in ids], "seconds_spent": 10}
    assert client.post(f"/api/assignments/{aid}/submit/", first, format="json").status_code == 201
    mine = client.get(f"/api/assignments/{aid}/annotation/").json()
    assert mine["tiers"] == first["tiers"] and mine["task_open"] is True

    revised = {
        "client_id": new_client_id(),
        "tiers": [[ids[3]], ids[:3]],
        "ratings": {str(ids[3]): 7},
        "seconds_spent": 5,
    }
    response = client.post(f"/api/assignments/{aid}/revise/", revised, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["tiers"] == revised["tiers"]  # in the labeler's ids, as submitted
    ranking = Ranking.objects.get()
    to_db = internal_ids(aid, Candidate.objects.values_list("id", flat=True))
    assert ranking.tiers == [[to_db[i] for i in tier] for tier in revised["tiers"]]
    assert ranking.seconds_spent == 15
    (revision,) = AnnotationRevision.objects.all()
    assert revision.annotation_id == ranking.pk
    assert revision.previous["tiers"] == [[to_db[i] for i in tier] for tier in first["tiers"]]
    assert revision.previous["guideline_version"] == 1

    # Nobody else can read or revise it; an invalid revision is refused like a submission.
    assert (
        client_for(other).post(f"/api/assignments/{aid}/revise/", revised, format="json").status_code == 404
    )
    assert client_for(other).get(f"/api/assignments/{aid}/annotation/").status_code == 404
    bad = {**revised, "tiers": [[ids[0]]]}
    assert client.post(f"/api/assignments/{aid}/revise/", bad, format="json").status_code == 400

    # Once the task has all its annotations, the work is final.
    other_client = client_for(other)
    other_body = other_client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    done = {"client_id": new_client_id(), "tiers": [[c["id"]] for c in other_body["task"]["candidates"]]}
    assert (
        other_client.post(f"/api/assignments/{other_body['id']}/submit/", done, format="json").status_code
        == 201
    )
    closed = client.post(f"/api/assignments/{aid}/revise/", revised, format="json")
    assert closed.status_code == 409 and closed.json()["code"] == "task_closed"


def test_revise_needs_submitted_work(leased):
    _project, _labeler, client, aid = leased
    body = {"client_id": new_client_id(), "text": "x"}
    response = client.post(f"/api/assignments/{aid}/revise/", body, format="json")
    assert response.status_code == 409 and response.json()["code"] == "not_submitted"
