"""Guideline versions read one at a time, and a lease that tells the labeler a newer version exists."""

import pytest
from rest_framework.test import APIClient

from labeling.models import Assignment, Role
from labeling.services.projects import guideline_publish
from labeling.tests.factories import add_member, import_ranking_tasks, make_project, make_user, new_client_id

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
        # A labeler, but of another project: this project's versions are not even confirmed to exist.
        "outsider": add_member(make_project(), Role.LABELER),
    }


def publish_v2(world, **fields):
    return guideline_publish(
        project=world["project"],
        author=world["admin"],
        body_md="# Guidelines\n\nPrefer short answers.",
        **fields,
    )


@pytest.mark.parametrize("who", ["admin", "reviewer", "labeler"])
def test_members_read_any_version(world, who):
    publish_v2(world, flags=[{"key": "rude", "label": "Rude", "description": "Insults the user"}])
    client = client_for(world[who])
    url = f"/api/projects/{world['project'].pk}/guidelines"
    v1, v2 = client.get(f"{url}/1/"), client.get(f"{url}/2/")
    assert v1.status_code == 200 and v2.status_code == 200
    assert v1.json()["version"] == 1 and "helpful, truthful and harmless" in v1.json()["body_md"]
    assert v1.json()["rating_scale"]["max"] == 7 and len(v1.json()["flags"]) > 1
    assert v2.json()["body_md"].endswith("Prefer short answers.")
    assert v2.json()["flags"] == [{"key": "rude", "label": "Rude", "description": "Insults the user"}]


def test_outsiders_and_anonymous_read_no_version(world):
    url = f"/api/projects/{world['project'].pk}/guidelines/1/"
    outsider = client_for(world["outsider"]).get(url)
    assert outsider.status_code == 404 and outsider.json()["code"] == "not_found"
    assert APIClient().get(url).status_code in (401, 403)


def test_a_missing_version_is_named(world):
    response = client_for(world["labeler"]).get(f"/api/projects/{world['project'].pk}/guidelines/9/")
    assert response.status_code == 404
    assert "no guideline version 9" in response.json()["detail"]


def test_a_flag_description_must_be_text(world):
    response = client_for(world["admin"]).post(
        f"/api/projects/{world['project'].pk}/guidelines/",
        {"body_md": "x", "flags": [{"key": "rude", "label": "Rude", "description": 3}]},
        format="json",
    )
    assert response.status_code == 400
    assert {"field": "flags[0].description", "message": "description must be text"} in [
        {"field": e["field"], "message": e["message"]} for e in response.json()["errors"]
    ]


def test_a_lease_made_under_v1_reports_that_v2_is_in_force(world):
    project, labeler = world["project"], world["labeler"]
    client = client_for(labeler)
    lease = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert lease["guideline"]["version"] == 1 and lease["project"]["guideline_version"] == 1

    publish_v2(world)
    # The lease keeps its version (its work is checked against v1) and now says that v2 is the newest.
    again = client.get(f"/api/assignments/{lease['id']}/").json()
    assert again["guideline"]["version"] == 1 and again["project"]["guideline_version"] == 2
    repeat = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert repeat["id"] == lease["id"] and repeat["project"]["guideline_version"] == 2

    ids = [c["id"] for c in lease["task"]["candidates"]]
    submitted = client.post(
        f"/api/assignments/{lease['id']}/submit/",
        {"client_id": new_client_id(), "tiers": [[i] for i in ids]},
        format="json",
    )
    assert submitted.status_code == 201 and submitted.json()["guideline_version"] == 1
    fresh = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    assert fresh["guideline"]["version"] == 2 and fresh["project"]["guideline_version"] == 2


def test_hot_path_payload_matches_the_serializer_when_versions_differ(world):
    from labeling.api.payloads import assignment_payload
    from labeling.api.serializers import AssignmentSerializer

    client_for(world["labeler"]).post(f"/api/projects/{world['project'].pk}/assignments/next/")
    publish_v2(world)
    assignment = Assignment.objects.select_related("task__project", "task__prompt").get()
    payload = assignment_payload(assignment)
    assert payload == AssignmentSerializer(assignment).data
    assert payload["project"]["guideline_version"] == 2 and payload["guideline"]["version"] == 1


def test_a_fresh_claim_reads_the_newest_version_from_the_claim_itself(world):
    """The claim's own statement already picks the newest guideline: its payload asks the database no more."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    publish_v2(world)
    with CaptureQueriesContext(connection) as captured:
        lease = client_for(world["labeler"]).post(f"/api/projects/{world['project'].pk}/assignments/next/")
    assert lease.json()["project"]["guideline_version"] == 2 and lease.json()["guideline"]["version"] == 2
    # The lookup it replaces: `SELECT "labeling_guideline"."version" … ORDER BY 1 DESC LIMIT 1`.
    assert not [q for q in captured if q["sql"].startswith('SELECT "labeling_guideline"."version"')]
