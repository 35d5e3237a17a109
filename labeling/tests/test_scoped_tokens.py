"""A token scoped to a project sees and does only that project: the project list, `me`, and no token management
(a leaked script token cannot revoke or mint the user's other credentials, nor list them)."""

import pytest
from rest_framework.test import APIClient

from labeling.models import ApiToken, Role
from labeling.services.tokens import api_token_create
from labeling.tests.factories import add_member, make_project, make_user

pytestmark = pytest.mark.django_db


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def world():
    user = make_user("scripter", is_staff=True)
    project_a = make_project(admin=user)
    project_b = make_project()
    add_member(project_b, Role.LABELER, user=user)
    full, full_key = api_token_create(user=user, name="everything")
    scoped, scoped_key = api_token_create(user=user, name="only B", project=project_b)
    return user, project_a, project_b, (full, full_key), (scoped, scoped_key)


def test_a_scoped_token_lists_and_shows_only_its_project(world):
    _, project_a, project_b, (_, full_key), (_, scoped_key) = world
    scoped = token_client(scoped_key)
    listed = scoped.get("/api/projects/")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()] == [project_b.pk]
    me = scoped.get("/api/auth/me")
    assert me.status_code == 200
    assert [p["id"] for p in me.json()["projects"]] == [project_b.pk]
    assert scoped.get(f"/api/projects/{project_a.pk}/").status_code == 404
    # The same user's unscoped token still sees both.
    full = token_client(full_key)
    assert {p["id"] for p in full.get("/api/projects/").json()} == {project_a.pk, project_b.pk}
    assert {p["id"] for p in full.get("/api/auth/me").json()["projects"]} == {project_a.pk, project_b.pk}


def test_a_scoped_token_cannot_manage_tokens(world):
    user, _, project_b, (full, full_key), (scoped_token, scoped_key) = world
    scoped = token_client(scoped_key)
    for response in (
        scoped.get("/api/tokens/"),
        scoped.post("/api/tokens/", {"name": "another"}, format="json"),
        scoped.post("/api/tokens/", {"name": "another", "project": project_b.pk}, format="json"),
        scoped.delete(f"/api/tokens/{full.pk}/"),
        scoped.delete(f"/api/tokens/{scoped_token.pk}/"),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "scoped_token"
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    assert ApiToken.objects.filter(user=user).count() == 2
    assert token_client(full_key).get("/api/projects/").status_code == 200


def test_a_scoped_token_of_site_staff_cannot_create_projects(world):
    _, _, _, (_, full_key), (_, scoped_key) = world
    refused = token_client(scoped_key).post("/api/projects/", {"name": "Elsewhere"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "scoped_token"
    assert token_client(full_key).post("/api/projects/", {"name": "Mine"}, format="json").status_code == 201
