"""The audit trail: admin actions and exports are recorded with who, what, when and from where, in the same
transaction as the change; project admins read it, nobody else."""

import io

import pytest
from rest_framework.test import APIClient

from labeling.auditlog.models import AuditAction, AuditEvent
from labeling.models import Demonstration, Role
from labeling.services.errors import ServiceError
from labeling.services.projects import membership_remove
from labeling.tests.factories import add_member, import_prompt_tasks, make_project, make_user, new_client_id

pytestmark = pytest.mark.django_db


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    admin = make_user(is_staff=True)
    project = make_project(admin=admin)
    return {
        "admin": admin,
        "project": project,
        "reviewer": add_member(project, Role.REVIEWER),
        "labeler": add_member(project, Role.LABELER),
    }


def actions(project) -> list[str]:
    return list(AuditEvent.objects.filter(project=project).order_by("id").values_list("action", flat=True))


def test_admin_actions_are_recorded_with_actor_and_ip(world):
    project, admin = world["project"], world["admin"]
    client = session_client(admin)
    base = f"/api/projects/{project.pk}"
    assert client.patch(f"{base}/", {"redundancy": 2}, format="json").status_code == 200
    newcomer = make_user()
    member = client.post(
        f"{base}/members/", {"username": newcomer.username, "role": "reviewer"}, format="json"
    )
    assert member.status_code == 201
    assert client.delete(f"{base}/members/{member.json()['id']}/").status_code == 204
    assert client.post(f"{base}/guidelines/", {"body_md": "v2"}, format="json").status_code == 201
    upload = io.BytesIO(b'{"external_id": "a", "prompt": "Hi?"}\n')
    upload.name = "p.jsonl"
    assert client.post(f"{base}/imports/", {"file": upload, "kind": "prompts"}).status_code == 201

    assert actions(project)[-5:] == [
        AuditAction.PROJECT_UPDATE,
        AuditAction.MEMBER_SET,
        AuditAction.MEMBER_REMOVE,
        AuditAction.GUIDELINE_PUBLISH,
        AuditAction.IMPORT,
    ]
    events = AuditEvent.objects.filter(project=project).order_by("id")
    update = events.get(action=AuditAction.PROJECT_UPDATE)
    assert update.actor == admin and update.ip == "127.0.0.1"
    assert update.details == {"changes": {"redundancy": 2}}
    removed = events.get(action=AuditAction.MEMBER_REMOVE)
    assert removed.details["username"] == newcomer.username and removed.details["role"] == "reviewer"
    assert events.get(action=AuditAction.IMPORT).details["prompts_created"] == 1


def test_tokens_and_reviews_are_recorded(world):
    project, reviewer, labeler = world["project"], world["reviewer"], world["labeler"]
    client = session_client(labeler)
    created = client.post("/api/tokens/", {"name": "ci", "project": project.pk}, format="json")
    assert created.status_code == 201
    token_id = created.json()["token"]["id"]
    assert client.delete(f"/api/tokens/{token_id}/").status_code == 204
    # Revoking twice records once.
    assert client.delete(f"/api/tokens/{token_id}/").status_code == 204
    token_events = AuditEvent.objects.filter(target_type="apitoken", target_id=str(token_id))
    assert [e.action for e in token_events.order_by("id")] == [
        AuditAction.TOKEN_CREATE,
        AuditAction.TOKEN_REVOKE,
    ]
    assert all(e.actor == labeler and e.project == project for e in token_events)
    # The key itself is never in the trail.
    key = created.json()["key"]
    assert not any(key in str(e.details) for e in AuditEvent.objects.all())

    import_prompt_tasks(project, 1)
    work = client.post(f"/api/projects/{project.pk}/assignments/next/").json()
    submitted = client.post(
        f"/api/assignments/{work['id']}/submit/",
        {"client_id": new_client_id(), "text": "An answer.", "seconds_spent": 3},
        format="json",
    )
    assert submitted.status_code == 201
    demo = Demonstration.objects.get()
    review = session_client(reviewer).post(
        f"/api/demonstrations/{demo.pk}/review/",
        {"decision": "reject", "comment": "Too short."},
        format="json",
    )
    assert review.status_code == 201
    event = AuditEvent.objects.get(action=AuditAction.REVIEW)
    assert event.actor == reviewer and event.project == project
    assert event.details == {"decision": "reject", "labeler_id": labeler.pk}


def test_refused_change_leaves_no_event(world):
    project = world["project"]
    before = AuditEvent.objects.count()
    admin_membership = project.memberships.get(user=world["admin"])
    with pytest.raises(ServiceError):
        membership_remove(membership=admin_membership)  # the last admin stays
    response = session_client(world["admin"]).patch(
        f"/api/projects/{project.pk}/", {"k_answers": 99}, format="json"
    )
    assert response.status_code == 400
    assert AuditEvent.objects.count() == before


def test_audit_api_is_for_project_admins_only(world):
    project = world["project"]
    url = f"/api/projects/{project.pk}/audit/"
    assert session_client(world["labeler"]).get(url).status_code == 403
    assert session_client(world["reviewer"]).get(url).status_code == 403
    assert session_client(make_user()).get(url).status_code == 404
    assert APIClient().get(url).status_code in (401, 403)

    admin = session_client(world["admin"])
    admin.patch(f"/api/projects/{project.pk}/", {"gold_rate": 0.1}, format="json")
    body = admin.get(url).json()
    assert body["count"] >= 3  # create, two member.set, the update
    newest = body["results"][0]
    assert newest["action"] == "project.update"
    assert newest["actor"] == {"id": world["admin"].pk, "username": world["admin"].username}
    assert {"id", "action", "target_type", "target_id", "details", "ip", "created_at"} <= set(newest)

    only = admin.get(url, {"action": "member.set"}).json()
    assert only["count"] == 2 and {r["action"] for r in only["results"]} == {"member.set"}
    refused = admin.get(url, {"action": "nonsense"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "action"
    # Other query parameters never filter (and never reach the ORM).
    probed = admin.get(url, {"actor__password__startswith": "x", "details__contains": "y"}).json()
    assert probed["count"] == body["count"]


def test_audit_shows_no_other_projects_events(world):
    other = make_project()
    admin = session_client(world["admin"])
    rows = admin.get(f"/api/projects/{world['project'].pk}/audit/").json()["results"]
    assert rows and all(r["target_id"] != str(other.pk) or r["target_type"] != "project" for r in rows)
    assert AuditEvent.objects.filter(project=other).exists()
    assert admin.get(f"/api/projects/{other.pk}/audit/").status_code == 404
