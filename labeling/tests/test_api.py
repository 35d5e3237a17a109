import io
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labeling.models import Candidate, Guideline, Ranking, Role
from labeling.services.blind import internal_ids
from labeling.tests.factories import (
    add_member,
    import_ranking_tasks,
    make_project,
    make_user,
    new_client_id,
    ranking_items,
)

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    admin = make_user(is_staff=True)
    project = make_project(admin=admin)
    import_ranking_tasks(project, 3)
    return {
        "project": project,
        "admin": admin,
        "reviewer": add_member(project, Role.REVIEWER),
        "labeler": add_member(project, Role.LABELER),
        "outsider": add_member(make_project(), Role.LABELER),
    }


def test_labeler_round_trip_over_http(world):
    project, labeler = world["project"], world["labeler"]
    client = client_for(labeler)
    response = client.post(f"/api/projects/{project.pk}/assignments/next/")
    assert response.status_code == 200
    body = response.json()
    candidates = body["task"]["candidates"]
    # Blind: no model, no source; only the neutral "cut off at the length limit" note.
    assert len(candidates) == 4 and set(candidates[0]) == {"id", "text", "truncated"}
    assert body["guideline"]["version"] == 1
    ids = [c["id"] for c in candidates]
    payload = {
        "client_id": new_client_id(),
        "tiers": [[ids[1]], [ids[0], ids[2]], [ids[3]]],
        "seconds_spent": 12,
    }
    first = client.post(f"/api/assignments/{body['id']}/submit/", payload, format="json")
    assert first.status_code == 201, first.json()
    again = client.post(f"/api/assignments/{body['id']}/submit/", payload, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # The reply names the answers as the labeler does; the store holds the database ids behind them.
    assert first.json()["tiers"] == payload["tiers"]
    to_db = internal_ids(body["id"], Candidate.objects.values_list("id", flat=True))
    assert Ranking.objects.get().tiers == [[to_db[i] for i in tier] for tier in payload["tiers"]]


def test_bad_ranking_over_http_names_the_problem(world):
    project, labeler = world["project"], world["labeler"]
    client = client_for(labeler)
    body = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    ids = [c["id"] for c in body["task"]["candidates"]]
    response = client.post(
        f"/api/assignments/{body['id']}/submit/",
        {"client_id": new_client_id(), "tiers": [[ids[0]]]},
        format="json",
    )
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid_ranking"
    assert "missing" in data["errors"][0]["message"] and data["errors"][0]["field"] == "tiers"


def test_prefetch_over_http_leases_the_task_after_the_current_one(world):
    project, client = world["project"], client_for(world["labeler"])
    url = f"/api/projects/{project.pk}/assignments/next/"
    current = client.post(url).json()
    extra = client.post(url + "?prefetch=1").json()
    assert extra["id"] != current["id"] and extra["task"]["id"] != current["task"]["id"]
    assert client.post(url + "?prefetch=1").json()["id"] == extra["id"]
    assert client.post(url).json()["id"] == current["id"]  # a reload still gets the current task
    ids = [[c["id"]] for c in current["task"]["candidates"]]
    body = {"client_id": new_client_id(), "tiers": ids}
    assert client.post(f"/api/assignments/{current['id']}/submit/", body, format="json").status_code == 201
    assert client.post(url).json()["id"] == extra["id"]


def test_no_work_is_204(world):
    project = make_project()
    labeler = add_member(project)
    assert client_for(labeler).post(f"/api/projects/{project.pk}/assignments/next/").status_code == 204


ROUTES = [
    # (method, path template, body, minimum role) -- minimum None means any member
    ("get", "/api/projects/{p}/", None, "labeler"),
    ("patch", "/api/projects/{p}/", {"redundancy": 2}, "admin"),
    ("get", "/api/projects/{p}/members/", None, "admin"),
    ("get", "/api/projects/{p}/guidelines/", None, "labeler"),
    ("get", "/api/projects/{p}/guidelines/current/", None, "labeler"),
    ("get", "/api/projects/{p}/guidelines/usage/", None, "reviewer"),
    ("post", "/api/projects/{p}/guidelines/", {"body_md": "v2"}, "admin"),
    ("get", "/api/projects/{p}/prompts/", None, "reviewer"),
    ("get", "/api/projects/{p}/tasks/", None, "reviewer"),
    ("get", "/api/projects/{p}/rankings/", None, "reviewer"),
    ("get", "/api/projects/{p}/demonstrations/", None, "reviewer"),
    ("post", "/api/projects/{p}/assignments/next/", None, "labeler"),
    ("post", "/api/projects/{p}/assignments/next/?prefetch=1", None, "labeler"),
]
RANK = {"labeler": 1, "reviewer": 2, "admin": 3}


@pytest.mark.parametrize(("method", "path", "body", "minimum"), ROUTES)
@pytest.mark.parametrize("who", ["anonymous", "outsider", "labeler", "reviewer", "admin"])
def test_each_role_gets_exactly_what_it_may(world, method, path, body, minimum, who):
    url = path.format(p=world["project"].pk)
    client = APIClient() if who == "anonymous" else client_for(world[who])
    response = getattr(client, method)(url, body, format="json")
    if who == "anonymous":
        assert response.status_code in (401, 403)
    elif who == "outsider":
        assert response.status_code == 404  # another project's data is not even confirmed to exist
    elif RANK[who] >= RANK[minimum]:
        assert response.status_code in (200, 201, 204), (who, url, response.content)
    else:
        assert response.status_code == 403, (who, url, response.status_code)


def test_import_through_api_admin_only(world):
    project = world["project"]
    upload = io.BytesIO(ranking_items(2, prefix="api"))
    upload.name = "items.jsonl"
    denied = client_for(world["reviewer"]).post(
        f"/api/projects/{project.pk}/imports/", {"file": upload, "kind": "ranking_items"}, format="multipart"
    )
    assert denied.status_code == 403
    upload.seek(0)
    ok = client_for(world["admin"]).post(
        f"/api/projects/{project.pk}/imports/", {"file": upload, "kind": "ranking_items"}, format="multipart"
    )
    assert ok.status_code == 201 and ok.json()["tasks_created"] == 2
    bad = io.BytesIO(b'{"external_id": "z"}\n')
    bad.name = "bad.jsonl"
    response = client_for(world["admin"]).post(
        f"/api/projects/{project.pk}/imports/", {"file": bad, "kind": "ranking_items"}, format="multipart"
    )
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} >= {"prompt"}


def test_only_staff_create_projects_and_members_are_admin_managed(world):
    assert (
        client_for(world["labeler"]).post("/api/projects/", {"name": "Mine"}, format="json").status_code
        == 403
    )
    created = client_for(world["admin"]).post(
        "/api/projects/", {"name": "New one", "k_answers": 7}, format="json"
    )
    assert created.status_code == 201 and created.json()["my_role"] == "admin"
    bad = client_for(world["admin"]).post("/api/projects/", {"name": "Bad", "k_answers": 12}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "k_answers"
    assert bad.json()["detail"].startswith("Invalid request (k_answers: ")
    project = world["project"]
    newcomer = make_user()
    response = client_for(world["admin"]).post(
        f"/api/projects/{project.pk}/members/",
        {"username": newcomer.username, "role": "labeler"},
        format="json",
    )
    assert response.status_code == 201
    assert client_for(newcomer).get(f"/api/projects/{project.pk}/").status_code == 200


def test_labeler_cannot_read_or_submit_anothers_assignment(world):
    project = world["project"]
    mine = client_for(world["labeler"]).post(f"/api/projects/{project.pk}/assignments/next/").json()
    thief = add_member(project)
    client = client_for(thief)
    assert client.get(f"/api/assignments/{mine['id']}/").status_code == 404
    response = client.post(
        f"/api/assignments/{mine['id']}/submit/", {"client_id": new_client_id(), "tiers": []}, format="json"
    )
    assert response.status_code == 404
    assert client.get("/api/assignments/").json()["results"] == []


def test_reviewer_reviews_only_in_own_project(world):
    from labeling.services.assignment import assignment_claim_next
    from labeling.services.submission import demonstration_submit
    from labeling.tests.factories import import_prompt_tasks

    project = world["project"]
    import_prompt_tasks(project, 1)
    labeler = world["labeler"]
    for _ in range(4):
        a = assignment_claim_next(user=labeler, project=project)
        if a.task.kind == "demonstration":
            break
        client_for(labeler).post(f"/api/assignments/{a.pk}/skip/", {"reason": "not now"}, format="json")
    demo = demonstration_submit(
        user=labeler, assignment_id=a.pk, client_id=new_client_id(), text="Answer"
    ).annotation
    url = f"/api/demonstrations/{demo.pk}/review/"
    assert client_for(world["outsider"]).post(url, {"decision": "accept"}, format="json").status_code == 404
    assert client_for(labeler).post(url, {"decision": "accept"}, format="json").status_code == 403
    assert client_for(world["reviewer"]).post(url, {"decision": "accept"}, format="json").status_code == 201


def test_session_login_requires_csrf_and_token_auth_works(world):
    labeler = world["labeler"]
    browser = Client(enforce_csrf_checks=True)
    refused = browser.post(
        "/api/auth/login",
        json.dumps({"username": labeler.username, "password": "pw-" + labeler.username}),
        content_type="application/json",
    )
    assert refused.status_code == 403
    token = browser.get("/api/auth/csrf").json()["csrf_token"]
    wrong = browser.post(
        "/api/auth/login",
        json.dumps({"username": labeler.username, "password": "nope"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "bad_credentials"
    ok = browser.post(
        "/api/auth/login",
        json.dumps({"username": labeler.username, "password": "pw-" + labeler.username}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert ok.status_code == 200 and ok.json()["projects"][0]["role"] == "labeler"
    # A session-authenticated write without the CSRF header is refused.
    project = world["project"]
    assert browser.post(f"/api/projects/{project.pk}/assignments/next/").status_code == 403
    token = browser.cookies["csrftoken"].value
    assert (
        browser.post(f"/api/projects/{project.pk}/assignments/next/", HTTP_X_CSRFTOKEN=token).status_code
        == 200
    )

    created = browser.post(
        "/api/tokens/",
        json.dumps({"name": "script", "project": project.pk}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert created.status_code == 201
    key = created.json()["key"]
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert script.get(f"/api/projects/{project.pk}/").status_code == 200
    # Scoped to one project: another project the user belongs to is out of reach.
    other = make_project()
    add_member(other, user=labeler)
    assert script.get(f"/api/projects/{other.pk}/").status_code == 404
    script.credentials(HTTP_AUTHORIZATION="Token ann_wrong")
    wrong_token = script.get(f"/api/projects/{project.pk}/")
    assert wrong_token.status_code == 401 and "Invalid token" in wrong_token.json()["detail"]
    token_id = created.json()["token"]["id"]
    assert browser.delete(f"/api/tokens/{token_id}/", HTTP_X_CSRFTOKEN=token).status_code == 204
    script.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert "revoked" in script.get(f"/api/projects/{project.pk}/").json()["detail"]


def test_guideline_versions_are_numbered_and_recorded(world):
    project = world["project"]
    admin = client_for(world["admin"])
    response = admin.post(
        f"/api/projects/{project.pk}/guidelines/",
        {"body_md": "## New rules", "flags": [{"key": "off_topic", "label": "Off topic"}]},
        format="json",
    )
    assert response.status_code == 201 and response.json()["version"] == 2
    bad = admin.post(
        f"/api/projects/{project.pk}/guidelines/", {"body_md": "x", "flags": [{"key": ""}]}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "flags[0]"
    assert Guideline.objects.filter(project=project).count() == 2


def test_guideline_usage_counts_annotations_per_version(world):
    from labeling.tests.factories import import_prompt_tasks

    project, labeler = world["project"], client_for(world["labeler"])
    import_prompt_tasks(project, 1)

    def submit_next() -> None:
        body = labeler.post(f"/api/projects/{project.pk}/assignments/next/").json()
        work = (
            {"tiers": [[c["id"]] for c in body["task"]["candidates"]]}
            if body["task"]["kind"] == "ranking"
            else {"text": "An answer."}
        )
        payload = {"client_id": new_client_id(), **work}
        assert (
            labeler.post(f"/api/assignments/{body['id']}/submit/", payload, format="json").status_code == 201
        )

    submit_next()
    client_for(world["admin"]).post(
        f"/api/projects/{project.pk}/guidelines/", {"body_md": "v2"}, format="json"
    )
    for _ in range(3):  # two rankings and the demonstration, under v2
        submit_next()
    got = client_for(world["reviewer"]).get(f"/api/projects/{project.pk}/guidelines/usage/")
    assert got.status_code == 200
    rows = [
        {k: r[k] for k in ("version", "rankings", "demonstrations", "written_prompts")} for r in got.json()
    ]
    assert rows == [
        {"version": 2, "rankings": 2, "demonstrations": 1, "written_prompts": 0},
        {"version": 1, "rankings": 1, "demonstrations": 0, "written_prompts": 0},
    ]
    # Another project's annotations never count here, and its members are refused.
    other = client_for(world["outsider"])
    assert other.get(f"/api/projects/{project.pk}/guidelines/usage/").status_code == 404
    assert labeler.get(f"/api/projects/{project.pk}/guidelines/usage/").status_code == 403


def test_schema_and_docs_served(world):
    schema = client_for(world["labeler"]).get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/assignments/{assignment_id}/submit/" in schema.content
    assert Client().get("/api/docs/").status_code == 200
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_hot_path_payload_matches_the_documented_serializer(world):
    from labeling.api.payloads import assignment_payload
    from labeling.api.serializers import AssignmentSerializer
    from labeling.models import Assignment

    project = world["project"]
    client_for(world["labeler"]).post(f"/api/projects/{project.pk}/assignments/next/")
    assignment = Assignment.objects.select_related("task__project", "task__prompt").get()
    assert assignment_payload(assignment) == AssignmentSerializer(assignment).data


def test_submit_answer_matches_the_documented_ranking_serializer(world):
    from labeling.api.payloads import ranking_payload
    from labeling.api.serializers import RankingSerializer

    project = world["project"]
    client = client_for(world["labeler"])
    lease = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    ids = [c["id"] for c in lease["task"]["candidates"]]
    body = {
        "client_id": new_client_id(),
        "tiers": [[ids[0], ids[1]], *[[i] for i in ids[2:]]] if project.allow_ties else [[i] for i in ids],
        "ratings": {str(ids[0]): 6},
        "comment": "fine",
        "seconds_spent": 12.5,
    }
    answer = client.post(f"/api/assignments/{lease['id']}/submit/", body, format="json")
    assert answer.status_code == 201, answer.content
    ranking = Ranking.objects.select_related("guideline").get()
    assert RankingSerializer(ranking).data == ranking_payload(ranking)
    assert answer.json() == ranking_payload(ranking, for_labeler=True)
    assert answer.json()["tiers"] == body["tiers"] and answer.json()["ratings"] == body["ratings"]
